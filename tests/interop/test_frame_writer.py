"""Our Arrow writer's bytes read by Plutono's real decoders exactly like pyarrow's (issue #19).

For every field type x nullable x empty x with labels/config/meta, for seeded random frames
and for the SDK's golden vector, the file written by ``frame/_ipc.py`` and the file pyarrow
writes for the same frame (``_arrow.encode_frame``) are decoded by grafana-plugin-sdk-go
v0.88.0 (``tests/interop/framecheck``, alerting's path, contract 4.7) and apache-arrow 0.16.0
(``tests/interop/arrowjs``, the browser's, contract 4.8); both views must be identical.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from plutono_plugin.frame import Field, FieldType, Frame
from plutono_plugin.frame._arrow import encode_frame as pyarrow_encode
from plutono_plugin.frame._ipc import encode_frame
from plutono_plugin.frame.config import FieldConfig
from plutono_plugin.frame.meta import FrameMeta, Notice
from plutono_plugin.frame.types import INT_RANGES
from tests._tools import go_binary, node_package, shared_vector

SAMPLES: dict[FieldType, list[Any]] = {
    **{t: [low, 0, high] for t, (low, high) in INT_RANGES.items()},
    FieldType.FLOAT32: [-3.4028234663852886e38, math.nan, math.inf],
    FieldType.FLOAT64: [-math.inf, 5e-324, 1.7976931348623157e308],
    FieldType.STRING: ["", "Grafana ❤️ 🦥", 'line\nbreak "quoted"'],
    FieldType.BOOL: [True, False, True],
    FieldType.TIME: [-(2**63), -1_234_567_891, 2**63 - 1],
}
CONFIG = FieldConfig(display_name="Temp 🌡", unit="celsius", decimals=3, min=-40, max=100)
META = FrameMeta(executed_query_string="SELECT 1", notices=[Notice("careful", severity="warning")])


def _matrix() -> dict[str, Frame]:
    frames = {}
    for field_type, values in SAMPLES.items():
        for nullable in (False, True):
            for rows in (0, 3):
                for decorated in (False, True):
                    column = list(values[:rows])
                    if nullable and rows:
                        column[1] = None
                    extra: dict[str, Any] = {}
                    if decorated:
                        extra = {"labels": {"host": "ä", "empty": ""}, "config": CONFIG}
                    field = Field(
                        f"{field_type}", column, type=field_type, nullable=nullable, **extra
                    )
                    time = Field("time", list(range(rows)), type="time")
                    key = f"{field_type}-{'null' if nullable else 'plain'}-{rows}-{decorated}"
                    meta = META if decorated else None
                    frames[key] = Frame(key, [time, field], ref_id="A", meta=meta)
    frames["no fields"] = Frame("no fields", ref_id="B")
    frames |= _random_frames(random.Random(19), 30)
    return frames


def _random_value(rng: random.Random, field_type: FieldType) -> Any:
    if field_type in INT_RANGES:
        return rng.randint(*INT_RANGES[field_type])
    if field_type is FieldType.FLOAT32:
        return rng.choice([math.nan, -math.inf, 0.5, -1.25e30, 3.0])
    if field_type is FieldType.FLOAT64:
        return rng.choice([math.nan, math.inf, rng.uniform(-1e300, 1e300), -0.0])
    if field_type is FieldType.STRING:
        return "".join(rng.choice('aé❤️ 🦥\n"') for _ in range(rng.randint(0, 8)))
    if field_type is FieldType.BOOL:
        return rng.random() < 0.5
    return rng.randint(-(2**62), 2**62)


def _random_frames(rng: random.Random, count: int) -> dict[str, Frame]:
    frames = {}
    for number in range(count):
        rows = rng.randint(0, 20)
        fields = []
        for index in range(rng.randint(1, 6)):
            field_type = rng.choice(list(FieldType))
            nullable = rng.random() < 0.5
            values = [
                None if nullable and rng.random() < 0.3 else _random_value(rng, field_type)
                for _ in range(rows)
            ]
            labels = {"k": str(index)} if rng.random() < 0.5 else None
            fields.append(
                Field(f"f{index}", values, type=field_type, nullable=nullable, labels=labels)
            )
        frames[f"random {number}"] = Frame(f"random {number}", fields, ref_id="R")
    return frames


MATRIX = _matrix()


def _run(command: list[str], paths: list[Path], cwd: Path | None = None) -> list[Any]:
    result = subprocess.run(
        command,
        input=json.dumps([str(path) for path in paths]),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=cwd,
    )
    views: list[Any] = json.loads(result.stdout)
    for view in views:
        view.pop("path")
    return views


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[Path]]:
    folder = tmp_path_factory.mktemp("writer")
    ours, theirs = [], []
    for index, frame in enumerate(MATRIX.values()):
        ours.append(folder / f"{index}.ours.arrow")
        ours[-1].write_bytes(encode_frame(frame))
        theirs.append(folder / f"{index}.pyarrow.arrow")
        theirs[-1].write_bytes(pyarrow_encode(frame))
    return ours, theirs


def _compare(ours: list[Any], theirs: list[Any]) -> None:
    for key, mine, reference in zip(MATRIX, ours, theirs, strict=True):
        assert mine.get("error") is None, (key, mine["error"])
        assert mine == reference, key


@pytest.mark.go
def test_go_sdk_reads_our_files_like_pyarrows(written: tuple[list[Path], list[Path]]) -> None:
    framecheck = str(go_binary("framecheck"))
    ours, theirs = written
    _compare(_run([framecheck], ours), _run([framecheck], theirs))


@pytest.mark.node
def test_arrow_js_reads_our_files_like_pyarrows(written: tuple[list[Path], list[Path]]) -> None:
    folder = node_package("arrowjs")
    ours, theirs = written
    decode = ["node", "decode.js"]
    _compare(_run(decode, ours, cwd=folder), _run(decode, theirs, cwd=folder))


@pytest.mark.go
@pytest.mark.node
@pytest.mark.vectors
def test_golden_vector_rewritten_by_us_reads_like_the_original(tmp_path: Path) -> None:
    golden = shared_vector("all_types.golden.arrow")  # read in place
    rewritten = tmp_path / "ours.arrow"
    rewritten.write_bytes(encode_frame(Frame.decode(golden.read_bytes())))
    paths = [golden, rewritten]
    go = _run([str(go_binary("framecheck"))], paths)
    js = _run(["node", "decode.js"], paths, cwd=node_package("arrowjs"))
    assert go[0]["error"] is None and go[1] == go[0]
    assert js[0]["error"] is None and js[1] == js[0]
    assert Frame.decode(rewritten.read_bytes()) == Frame.decode(golden.read_bytes())
