"""Long ↔ wide, fill modes and field order: against the old row loop and the Go SDK v0.88.0.

``tests/interop/goencode -longtowide`` runs the SDK's own ``data.LongToWide`` on a frame we
encoded, and writes its result for comparison (contract 2.4.2: alerting needs wide frames).
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from plutono_plugin.errors import FrameError
from plutono_plugin.frame import Field, FieldType, Frame
from tests._tools import go_binary
from tests.frame.reference import row_loop_long_to_wide

S = 10**9


def random_long(seed: int, rows: int = 60) -> Frame:
    """A long frame with gaps, repeated (time, labels) rows, null and bool factors, int values."""
    rng = random.Random(seed)
    times = [rng.randrange(8) * S for _ in range(rows)]
    host = [rng.choice(["a", "b", "c", None]) for _ in range(rows)]
    up = [rng.choice([True, False]) for _ in range(rows)]
    cpu = [rng.choice([None, rng.random()]) for _ in range(rows)]
    count = [rng.randrange(100) for _ in range(rows)]
    return Frame(
        f"random {seed}",
        [
            Field("host", host, type="string"),
            Field("time", times, type="time"),
            Field("cpu", cpu, type="float64"),
            Field("up", up),
            Field("count", count, type="int32"),
        ],
    )


def sorted_by_time(frame: Frame) -> Frame:
    order = sorted(range(frame.rows), key=frame.field("time").values.__getitem__)
    return Frame(
        frame.name,
        [
            Field(f.name, [f.values[i] for i in order], type=f.type, nullable=f.nullable)
            for f in frame.fields
        ],
    )


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_long_to_wide_equals_the_row_loop(seed: int) -> None:
    frame = random_long(seed)
    assert frame.to_wide().fields == row_loop_long_to_wide(frame)


def test_fill_modes_fill_only_missing_cells() -> None:
    long = Frame(
        "m",
        [
            Field("time", [1 * S, 1 * S, 2 * S, 3 * S, 4 * S], type="time"),
            Field("host", ["a", "b", "a", "b", "a"]),
            Field("cpu", [1.0, 10.0, None, 30.0, 4.0]),
        ],
    )
    columns = {
        mode: [(f.labels, f.values) for f in long.to_wide(mode, value=-1).fields[1:]]
        for mode in ("null", "previous", "value")
    }
    a, b = {"host": "a"}, {"host": "b"}
    assert columns["null"] == [(a, [1.0, None, None, 4.0]), (b, [10.0, None, 30.0, None])]
    # a data null at t=2 is carried into the missing t=3, as the SDK's FillModePrevious does
    assert columns["previous"] == [(a, [1.0, None, None, 4.0]), (b, [10.0, 10.0, 30.0, 30.0])]
    assert columns["value"] == [(a, [1.0, None, -1.0, 4.0]), (b, [10.0, -1.0, 30.0, -1.0])]


def test_fill_mode_errors_name_the_problem() -> None:
    long = random_long(0)
    with pytest.raises(FrameError, match="unknown fill mode 'zero'"):
        long.to_wide("zero")  # type: ignore[arg-type]
    with pytest.raises(FrameError, match="needs value="):
        long.to_wide("value")
    with pytest.raises(FrameError, match="does not fit"):
        Frame(
            "i",
            [
                Field("t", [1, 2], type="time"),
                Field("s", ["a", "b"]),
                Field("n", [1, 2], type="int8"),
            ],
        ).to_wide("value", 1000)


def _go_long_to_wide(frame: Frame, fill: str, tmp_path: Path) -> Frame:
    source, target = tmp_path / "long.arrow", tmp_path / "wide.arrow"
    source.write_bytes(frame.encode())
    command = [str(go_binary("goencode")), f"-longtowide={source}", f"-out={target}"]
    subprocess.run([*command, f"-fill={fill}", "-runs=1"], check=True, capture_output=True)
    return Frame.decode(target.read_bytes())


def _view(frame: Frame) -> list[tuple[str, Any, list[Any]]]:
    return [(f.name, f.labels, f.values) for f in frame.fields]


@pytest.mark.go
@pytest.mark.parametrize(
    ("fill", "go_fill"), [("null", "null"), ("previous", "previous"), ("value", "value:-1")]
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_long_to_wide_matches_the_go_sdk(
    fill: str, go_fill: str, seed: int, tmp_path: Path
) -> None:
    frame = random_long(seed)
    for field in frame.fields:  # the SDK cannot read a null factor (ConcreteAt): "" instead
        if field.type is FieldType.STRING:
            field_values = ["" if v is None else v for v in field.values]
            frame.fields[frame.fields.index(field)] = Field(field.name, field_values)
    frame = sorted_by_time(frame)  # the SDK refuses unsorted input; we sort it ourselves

    ours = frame.to_wide(fill, value=-1)  # type: ignore[arg-type]
    theirs = _go_long_to_wide(frame, go_fill, tmp_path)

    assert _view(ours) == _view(theirs)
    assert [f.type for f in ours.fields] == [f.type for f in theirs.fields]


def test_wide_to_long_follows_the_sdk_layout() -> None:
    wide = Frame(
        "w",
        [
            Field("time", [1 * S, 2 * S], type="time"),
            Field("mem", [5, 6], labels={"host": "b"}),
            Field("cpu", [0.1, 0.2], labels={"host": "b", "dc": "x"}),
            Field("cpu", [0.3, None], labels={"host": "a", "dc": "x"}),
        ],
    )

    long = wide.to_long()

    names = [f.name for f in long.fields]
    assert names == ["time", "cpu", "mem", "dc", "host"]  # values by name, then label keys
    # label sets in the SDK's order (the JSON of the sorted pairs): dc=x,host=a; dc=x,host=b; host=b
    assert long.field("time").values == [1 * S] * 3 + [2 * S] * 3
    assert long.field("host").values == ["a", "b", "b", "a", "b", "b"]
    assert long.field("dc").values == ["x", "x", "", "x", "x", ""]
    assert long.field("cpu").values == [0.3, 0.1, None, None, 0.2, None]
    assert long.field("mem").values == [None, None, 5, None, None, 6]
    back = long.to_wide().sort_wide_fields("host", "dc")
    assert [(f.name, f.labels) for f in back.fields][1:4] == [
        ("cpu", {"dc": "x", "host": "a"}),  # by host first, then dc
        ("cpu", {"dc": "", "host": "b"}),
        ("cpu", {"dc": "x", "host": "b"}),
    ]


def test_wide_to_long_refuses_mismatched_types_and_other_shapes() -> None:
    clash = Frame(
        "c",
        [Field("t", [1], type="time"), Field("v", [1.0], labels={"a": "1"}), Field("v", [1])],
    )
    with pytest.raises(FrameError, match="two fields are called 'v'"):
        clash.to_long()
    with pytest.raises(FrameError, match="expected a wide time series, got a 'long'"):
        random_long(0).to_long()


def test_sort_wide_fields_orders_like_the_sdk() -> None:
    wide = Frame(
        "w",
        [
            Field("b", [1.0], labels={"host": "z"}),
            Field("time", [1], type="time"),
            Field("a", [1.0], labels={"host": "y", "dc": "2"}),
            Field("a", [1.0], labels={"host": "x", "dc": "3"}),
            Field("a", [1.0]),
        ],
    )
    by_key = [(f.name, f.labels) for f in wide.sort_wide_fields("dc").fields]
    assert by_key == [
        ("time", None),
        ("a", None),
        ("a", {"host": "y", "dc": "2"}),
        ("a", {"host": "x", "dc": "3"}),
        ("b", {"host": "z"}),
    ]
    by_text = [f.labels for f in wide.sort_wide_fields().fields[2:4]]
    assert by_text == [{"host": "y", "dc": "2"}, {"host": "x", "dc": "3"}]  # "dc=2, ..." < "dc=3"


def test_fill_missing_on_a_wide_frame() -> None:
    wide = Frame(
        "w",
        [
            Field("time", [1, 2, 3], type="time"),
            Field("v", [None, 1.0, None]),
            Field("n", [2, None, None], type="int64"),
            Field("s", ["a", None, "c"]),
        ],
    )
    previous = wide.fill_missing("previous")
    assert [f.values for f in previous.fields[1:]] == [
        [None, 1.0, 1.0],
        [2, 2, 2],
        ["a", None, "c"],
    ]
    assert not previous.field("n").nullable
    filled = wide.fill_missing("value", 0.5)
    assert filled.field("v").values == [0.5, 1.0, 0.5] and filled.field("n").values == [2, 0, 0]
    assert wide.fill_missing("null") == wide
    assert json.loads(json.dumps(filled.field("v").values)) == [0.5, 1.0, 0.5]
