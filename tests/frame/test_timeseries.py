"""Time-series shapes: SDK classification, long → wide, and the alerting check (contract 2.4.2)."""

from __future__ import annotations

import pytest

from plutono_plugin.errors import FrameError
from plutono_plugin.frame import Field, FieldType, Frame
from plutono_plugin.frame.config import FieldConfig

S = 10**9


def _long() -> Frame:
    return Frame(
        "metrics",
        [
            Field("time", [2 * S, 1 * S, 1 * S, 2 * S, 3 * S], type="time"),
            Field("host", ["b", "a", "b", "a", "a"]),
            Field("up", [True, True, True, False, True]),
            Field("cpu", [0.4, 0.1, 0.2, 0.3, 0.5], config=FieldConfig(unit="percent")),
        ],
        ref_id="A",
    )


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ([], "not"),
        ([Field("t", [1], type="time")], "not"),
        ([Field("v", [1.0])], "not"),
        ([Field("t", [1], type="time"), Field("s", ["x"])], "not"),
        ([Field("t", [1], type="time"), Field("v", [1.0])], "wide"),
        ([Field("t", [1], type="time"), Field("t2", [1], type="time")], "wide"),
        ([Field("t", [1], type="time"), Field("s", ["x"]), Field("v", [1])], "long"),
    ],
)
def test_time_series_type_follows_the_sdk(fields: list[Field], kind: str) -> None:
    assert Frame("f", fields).time_series_type == kind


def test_long_to_wide_turns_string_and_bool_fields_into_labels() -> None:
    wide = _long().to_wide()
    assert (wide.name, wide.ref_id, wide.time_series_type) == ("metrics", "A", "wide")
    assert wide.fields[0].values == [1 * S, 2 * S, 3 * S]  # unsorted input is sorted
    series = [(f.name, f.labels, f.values) for f in wide.fields[1:]]
    assert series == [
        ("cpu", {"host": "a", "up": "false"}, [None, 0.3, None]),
        ("cpu", {"host": "a", "up": "true"}, [0.1, None, 0.5]),
        ("cpu", {"host": "b", "up": "true"}, [0.2, 0.4, None]),
    ]
    assert all(f.type is FieldType.FLOAT64 and f.nullable for f in wide.fields[1:])
    assert wide.fields[1].config == FieldConfig(unit="percent")
    wide.check_time_series()
    assert Frame.decode(wide.encode()) == wide


def test_long_to_wide_refuses_other_shapes() -> None:
    with pytest.raises(FrameError, match="expected a long time series, got a 'wide'"):
        Frame("w", [Field("t", [1], type="time"), Field("v", [1.0])]).to_wide()
    nulls = Frame(
        "n", [Field("t", [1, None], type="time"), Field("s", ["a", "b"]), Field("v", [1, 2])]
    )
    with pytest.raises(FrameError, match="time field has nulls"):
        nulls.to_wide()


def test_alerting_check_explains_what_alerting_would_do() -> None:
    with pytest.raises(FrameError, match="long time series") as caught:
        _long().check_time_series()
    assert caught.value.frame == "metrics"
    with pytest.raises(FrameError, match="not a time series"):
        Frame("s", [Field("v", [1.0])]).check_time_series()
    with pytest.raises(FrameError, match="NaN timestamps"):
        Frame("n", [Field("t", [None, 1], type="time"), Field("v", [1, 2])]).check_time_series()
    Frame("empty").check_time_series()  # alerting reports "no data"
    Frame("only time", [Field("t", [1], type="time")]).check_time_series()
