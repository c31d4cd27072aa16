"""Frames we encode, decoded by Plutono 7.5's two real decoders (contract 4.7, 4.8).

The Go program ``tests/interop/framecheck`` links grafana-plugin-sdk-go v0.88.0 with its own
June-2020 Go Arrow (the server side: alerting, expressions); ``tests/interop/arrowjs`` runs
apache-arrow 0.16.0 the way ``ArrowDataFrame.ts`` reads frames (the browser).
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from plutono_plugin.frame import Field, FieldType, Frame
from plutono_plugin.frame.config import (
    DataLink,
    FieldConfig,
    Threshold,
    ThresholdsConfig,
    ValueMapping,
)
from plutono_plugin.frame.meta import FrameMeta, Notice, QueryStat
from tests._tools import go_binary, node_package

INT_LIMITS = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}
GO_TYPES = {**{name: name for name in INT_LIMITS}, "float32": "float32", "float64": "float64"}
GO_TYPES |= {"string": "string", "bool": "bool", "time": "time.Time"}
SAMPLES: dict[str, list[Any]] = {
    **{name: [low, 0, high] for name, (low, high) in INT_LIMITS.items()},
    "float32": [-3.4028234663852886e38, math.nan, math.inf],
    "float64": [-math.inf, math.nan, 1.7976931348623157e308],
    "string": ["", "Grafana ❤️ 🦥", 'line\nbreak "quoted"'],
    "bool": [True, False, True],
    # pre-1970, a value a datetime cannot hold (ns precision), the int64 limits
    "time": [-(2**63), -1_234_567_891, 2**63 - 1],
}


def _matrix() -> dict[str, Frame]:
    frames: dict[str, Frame] = {}
    typed = []
    for name, values in SAMPLES.items():
        typed.append(Field(name, values, type=name))
        typed.append(
            Field(f"nullable_{name}", [values[0], None, values[2]], type=name, nullable=True)
        )
    frames["all_types"] = Frame("all types", typed, ref_id="A")
    frames["zero_rows"] = Frame(
        "zero rows",
        [
            Field(name, [], type=name, nullable=nullable)
            for name in SAMPLES
            for nullable in (False, True)
        ],
    )
    frames["empty"] = Frame()
    config = FieldConfig(
        display_name="Temp 🌡",
        display_name_from_ds="from ds",
        path="a/b",
        description="ünïcode",
        filterable=True,
        unit="celsius",
        decimals=3,
        min=-40,
        max=math.inf,
        mappings=[
            ValueMapping(id=1, text="hot", type=1, value="100"),
            ValueMapping(type=2, from_="0", to="5"),
        ],
        thresholds=ThresholdsConfig(
            steps=[Threshold(color="green"), Threshold(80.5, "red", "alert")]
        ),
        color={"mode": "fixed", "fixedColor": "blue"},
        null_value_mode="null as zero",
        links=[DataLink("doc", "https://example.com/?a=1&b=<2>", target_blank=True)],
        no_value="—",
        custom={"lineWidth": 2, "nested": {"a": [1, "b"]}},
    )
    meta = FrameMeta(
        path="p",
        path_separator="/",
        custom={"rows": 3, "list": [1, 2]},
        stats=[QueryStat(12.5, FieldConfig(display_name="bytes", unit="decbytes"))],
        notices=[Notice("careful", severity="warning", link="https://x", inspect=1), Notice("fyi")],
        preferred_visualisation_type="table",
        executed_query_string="SELECT * FROM t WHERE x < 1",
    )
    frames["config_meta"] = Frame(
        "décor",
        [
            Field("time", [0, 1_000_000_000], type="time"),
            Field("v", [1.5, 2.5], labels={"host": "ä", "empty": ""}, config=config),
            Field("no labels", [1, 2], labels={}, config=FieldConfig()),
        ],
        ref_id="B",
        meta=meta,
    )
    times = np.array(["2024-01-01T00:00:00", "2024-01-01T00:01:00"], dtype="datetime64[ns]")
    frames["wide"] = Frame(
        "wide",
        [
            Field("time", times),
            Field("cpu", np.array([0.5, np.nan]), labels={"host": "a"}),
            Field("mem", np.array([1, 2], dtype=np.int64), config={"displayName": "Memory"}),
        ],
    )
    stamp = [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 0, 1, tzinfo=UTC)]
    long = Frame(
        "long",
        [
            Field("time", [stamp[0], stamp[0], stamp[1], stamp[1]]),
            Field("host", ["a", "b", "a", "b"]),
            Field("cpu", [1.0, 2.0, 3.0, 4.0]),
        ],
    )
    frames["long"] = long
    frames["long_to_wide"] = long.to_wide()
    # Inputs the decoders cannot read, converted on the way in (contract 4.9).
    table = pa.table(
        {
            "ms": pa.array([1_600_000_000_000, None], pa.timestamp("ms")),
            "tz": pa.array([0, 1], pa.timestamp("s", tz="America/New_York")),
            "date": pa.array([0, -1], pa.date32()),
            "large": pa.array(["a", "ü"], pa.large_string()),
            "view": pa.array(["x", None], pa.string_view()),
            "dict": pa.array(["p", "q"]).dictionary_encode(),
            "half": pa.array(np.array([1.5, -2.0], dtype=np.float16)),
        }
    )
    frames["converted"] = Frame.from_arrow(table, "converted")
    return frames


MATRIX = _matrix()


def _ours(value: Any, field_type: FieldType) -> Any:
    """Our value in the canonical form framecheck prints."""
    if value is None:
        return None
    if field_type in (FieldType.INT64, FieldType.UINT64, FieldType.TIME):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    return value


def _go_config(config: FieldConfig | None) -> FieldConfig | None:
    """What survives Go's FieldConfig struct.

    `null` min/max decode as absent, unknown keys vanish, and a `null` (-Infinity) threshold
    step value becomes Go's zero value (a non-pointer ConfFloat64).
    """
    if config is None:
        return None
    thresholds = config.thresholds
    if thresholds is not None:
        steps = [
            dataclasses.replace(step, value=step.value if math.isfinite(step.value) else 0.0)
            for step in thresholds.steps
        ]
        thresholds = dataclasses.replace(thresholds, steps=tuple(steps))
    return dataclasses.replace(
        config, extra={}, thresholds=thresholds, min=_not_nan(config.min), max=_not_nan(config.max)
    )


def _not_nan(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


@pytest.fixture(scope="session")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("frames")
    paths = {}
    for key, frame in MATRIX.items():
        paths[key] = folder / f"{key}.arrow"
        paths[key].write_bytes(frame.encode())
    return paths


def _run(command: list[str], paths: dict[str, Path], cwd: Path | None = None) -> dict[str, Any]:
    result = subprocess.run(
        command,
        input=json.dumps([str(path) for path in paths.values()]),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=cwd,
    )
    return dict(zip(paths, json.loads(result.stdout), strict=True))


@pytest.fixture(scope="session")
def go_view(encoded: dict[str, Path]) -> dict[str, Any]:
    return _run([str(go_binary("framecheck"))], encoded)


@pytest.fixture(scope="session")
def js_view(encoded: dict[str, Path]) -> dict[str, Any]:
    folder = node_package("arrowjs")
    return _run(["node", "decode.js"], encoded, cwd=folder)


def _cases() -> Iterator[str]:
    return iter(MATRIX)


@pytest.mark.go
@pytest.mark.parametrize("key", list(_cases()))
def test_go_sdk_decodes_what_we_encoded(key: str, go_view: dict[str, Any]) -> None:
    frame, seen = MATRIX[key], go_view[key]
    assert seen["error"] is None
    assert (seen["name"], seen["refId"]) == (frame.name, frame.ref_id)
    go_meta = None if seen["meta"] is None else FrameMeta.from_json(seen["meta"])
    assert go_meta == (None if frame.meta is None else dataclasses.replace(frame.meta, extra={}))
    assert len(seen["fields"]) == len(frame.fields)
    for field, go_field in zip(frame.fields, seen["fields"], strict=True):
        assert go_field["name"] == field.name
        assert go_field["type"] == ("*" if field.nullable else "") + GO_TYPES[field.type]
        assert go_field["nullable"] == field.nullable
        assert go_field["labels"] == field.labels
        go_config = (
            None if go_field["config"] is None else FieldConfig.from_json(go_field["config"])
        )
        assert go_config == _go_config(field.config)
        assert go_field["values"] == [_ours(v, field.type) for v in field.values], field.name


@pytest.mark.go
def test_go_sdk_reads_converted_inputs_as_the_right_values(go_view: dict[str, Any]) -> None:
    fields = {field["name"]: field for field in go_view["converted"]["fields"]}
    assert fields["ms"]["values"] == ["1600000000000000000", None]  # not 1970 (contract 4.7)
    assert fields["tz"]["values"] == ["0", "1000000000"]  # UTC instants
    assert fields["date"]["values"] == ["0", str(-86_400 * 10**9)]
    assert fields["large"]["values"] == ["a", "ü"]
    assert fields["view"]["values"] == ["x", None]
    assert fields["dict"]["values"] == ["p", "q"]
    assert fields["half"] == {**fields["half"], "type": "float32", "values": [1.5, -2.0]}


@pytest.mark.go
def test_alerting_path_accepts_wide_frames_only(go_view: dict[str, Any]) -> None:
    wide, converted = go_view["wide"], go_view["long_to_wide"]
    assert wide["timeSeriesType"] == "wide"
    assert wide["seriesError"] is None
    assert [(s["name"], s["points"]) for s in wide["series"]] == [
        ("cpu {host=a}", 2),
        ("Memory", 2),
    ]
    assert converted["timeSeriesType"] == "wide"
    assert [s["tags"] for s in converted["series"]] == [{"host": "a"}, {"host": "b"}]
    # The long frame "works" in Go but merges both hosts into one series: we refuse it.
    assert go_view["long"]["timeSeriesType"] == "long"
    assert [s["name"] for s in go_view["long"]["series"]] == ["cpu"]
    assert MATRIX["long"].time_series_type == "long"
    MATRIX["wide"].check_time_series()
    MATRIX["long_to_wide"].check_time_series()
    # Our own classification agrees with the SDK's TimeSeriesSchema on every frame.
    for key, frame in MATRIX.items():
        assert frame.time_series_type == go_view[key]["timeSeriesType"], key


def _js_type(field_type: FieldType) -> str:
    if field_type is FieldType.STRING:
        return "string"
    if field_type is FieldType.BOOL:
        return "boolean"
    return "time" if field_type is FieldType.TIME else "number"


def _close(ours: Any, theirs: Any, field_type: FieldType) -> bool:
    if ours is None or theirs is None or isinstance(theirs, str | bool):
        return bool(_ours(ours, field_type) == theirs) or ours == theirs
    expected = ours / 1e6 if field_type is FieldType.TIME else float(ours)
    return math.isclose(expected, float(theirs), rel_tol=1e-15, abs_tol=1e-6)


@pytest.mark.node
@pytest.mark.parametrize("key", list(_cases()))
def test_arrow_js_decodes_what_we_encoded(key: str, js_view: dict[str, Any]) -> None:
    frame, seen = MATRIX[key], js_view[key]
    assert seen["error"] is None
    # ArrowDataFrame.ts turns "" into undefined and skips empty meta.
    assert (seen["name"], seen["refId"]) == (frame.name or None, frame.ref_id or None)
    assert seen["meta"] == (frame.meta.to_json() if frame.meta else None)
    assert seen["length"] == frame.rows
    for field, js_field in zip(frame.fields, seen["fields"], strict=True):
        assert js_field["name"] == field.name
        assert js_field["type"] == _js_type(field.type)
        assert js_field["nullable"] == field.nullable
        assert js_field["labels"] == (field.labels or None)
        assert js_field["config"] == (field.config.to_json() if field.config else {})
        values = js_field["values"]
        assert len(values) == len(field)
        for ours, theirs in zip(field.values, values, strict=True):
            assert _close(ours, theirs, field.type), (field.name, ours, theirs)


@pytest.mark.go
@pytest.mark.node
def test_golden_vector_rebuilt_by_us_reads_the_same_in_both_decoders(
    tmp_path: Path,
) -> None:
    from tests._tools import shared_vector

    golden = shared_vector("all_types.golden.arrow")
    rebuilt = tmp_path / "rebuilt.arrow"
    rebuilt.write_bytes(Frame.decode(golden.read_bytes()).encode())
    paths = {"golden": golden, "rebuilt": rebuilt}
    go = _run([str(go_binary("framecheck"))], paths)
    js = _run(["node", "decode.js"], paths, cwd=node_package("arrowjs"))
    for view in (go, js):
        golden_view, rebuilt_view = view["golden"], view["rebuilt"]
        assert golden_view["error"] is None
        golden_view["path"] = rebuilt_view["path"]
        assert rebuilt_view == golden_view
