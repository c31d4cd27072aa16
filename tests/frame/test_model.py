"""The frame model: building fields from Python, numpy, pandas, polars and pyarrow data."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from plutono_plugin.errors import FrameError
from plutono_plugin.frame import Field, FieldType, Frame
from plutono_plugin.frame.config import FieldConfig, Threshold, ThresholdsConfig, ValueMapping
from plutono_plugin.frame.meta import FrameMeta, Notice, QueryStat

NS = 10**9


def test_importing_the_model_loads_no_data_library() -> None:
    code = (
        "import sys, plutono_plugin.frame, plutono_plugin.frame.config, plutono_plugin.frame.meta\n"
        "print(sorted(m for m in ('pyarrow', 'numpy', 'pandas', 'polars') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2, None], FieldType.INT64),
        ([2**64 - 1, 1], FieldType.UINT64),
        ([1, 2.5], FieldType.FLOAT64),
        (["a", None], FieldType.STRING),
        ([True, False], FieldType.BOOL),
        ([datetime(2020, 1, 1)], FieldType.TIME),
        ([np.datetime64("2020-01-01T00:00:00")], FieldType.TIME),
        ([pd.Timestamp("2020-01-01")], FieldType.TIME),
    ],
)
def test_type_is_inferred_from_python_values(values: list[Any], expected: FieldType) -> None:
    field = Field("x", values)
    assert field.type is expected
    assert field.nullable == (None in values)


@pytest.mark.parametrize("values", [[1, "a"], [True, 1.5], [], [None], [object()], [b"raw"]])
def test_ambiguous_or_unsupported_python_values_are_refused(values: list[Any]) -> None:
    with pytest.raises(FrameError) as caught:
        Field("bad", values)
    assert caught.value.field == "bad"


def test_declared_type_converts_or_refuses_each_value() -> None:
    assert Field("f", [1, 2], type="float32").values == [1.0, 2.0]
    assert Field("f", [0.1], type="float32").values == [np.float32(0.1).item()]
    with pytest.raises(FrameError, match="300 does not fit int8"):
        Field("i", [1, 300], type="int8")
    with pytest.raises(FrameError, match="expected an integer"):
        Field("i", [1.5], type="int32")
    with pytest.raises(FrameError, match="unknown field type 'int128'"):
        Field("i", [1], type="int128")
    with pytest.raises(FrameError, match="nullable=False"):
        Field("i", [1, None], nullable=False)
    assert Field("i", [1], nullable=True).nullable


def test_time_values_of_every_kind_become_utc_nanoseconds() -> None:
    expected = 1_577_836_800 * NS  # 2020-01-01T00:00:00Z
    plus_one = timezone(timedelta(hours=1))
    values = [
        datetime(2020, 1, 1, tzinfo=UTC),
        datetime(2020, 1, 1),  # naive means UTC
        datetime(2020, 1, 1, 1, tzinfo=plus_one),
        np.datetime64("2020-01-01T00:00:00.000000000"),
        np.datetime64("2020-01-01", "D"),
        pd.Timestamp("2020-01-01T01:00:00+01:00"),
        expected,
    ]
    assert Field("t", values).values == [expected] * len(values)


def test_time_keeps_nanoseconds_and_pre_1970_values() -> None:
    values = [
        9_007_199_254_740_991,
        -1,
        -(2**63),
        np.datetime64(-5, "ns"),
        pd.Timestamp(123, unit="ns"),
    ]
    assert Field("t", values, type="time").values == [9_007_199_254_740_991, -1, -(2**63), -5, 123]


@pytest.mark.parametrize(
    "value",
    [
        datetime(1600, 1, 1, tzinfo=UTC),
        datetime(2300, 1, 1),
        np.datetime64("2263-01-01", "s"),
        2**63,
    ],
)
def test_times_outside_the_nanosecond_range_are_refused(value: Any) -> None:
    with pytest.raises(FrameError, match="outside the int64 nanosecond range") as caught:
        Field("when", [value], type="time")
    assert caught.value.field == "when"


def test_out_of_range_times_from_arrow_are_refused() -> None:
    with pytest.raises(FrameError, match="int64 nanosecond range"):
        Field("when", pa.array([10**11], pa.timestamp("s")))


def test_numpy_columns_are_wrapped_without_copying() -> None:
    data = np.arange(1000, dtype=np.float64)
    field = Field("v", data)
    assert (field.type, field.nullable, len(field)) == (FieldType.FLOAT64, False, 1000)
    assert field.to_arrow().buffers()[1].address == data.ctypes.data


def test_numpy_inputs_keep_their_meaning() -> None:
    assert Field("h", np.array([1.5], dtype=np.float16)).type is FieldType.FLOAT32
    stamps = Field("t", np.array(["2020-01-01", "NaT"], dtype="datetime64[ms]"))
    assert stamps.values == [1_577_836_800 * NS, None]
    masked = Field("m", np.ma.masked_array([1, 2, 3], mask=[False, True, False]))
    assert masked.values == [1, None, 3]
    assert Field("nan", np.array([math.nan])).values[0] != 0  # NaN stays a float, not a null
    assert Field("o", np.array(["a", None], dtype=object)).values == ["a", None]
    with pytest.raises(FrameError, match="1-dimensional"):
        Field("2d", np.zeros((2, 2)))
    with pytest.raises(FrameError):
        Field("td", np.array([1], dtype="timedelta64[s]"))


def test_pandas_frame_with_time_index() -> None:
    index = pd.date_range("2024-01-01", periods=3, freq="min", tz="Europe/Berlin", name="ts")
    data = pd.DataFrame({"a": [1.0, None, 3.0], "s": ["x", "y", None]}, index=index)
    frame = Frame.from_pandas(data, "pd", ref_id="Q")
    assert [(f.name, f.type, f.nullable) for f in frame.fields] == [
        ("ts", FieldType.TIME, False),
        ("a", FieldType.FLOAT64, True),
        ("s", FieldType.STRING, True),
    ]
    assert frame.fields[0].values[0] == int(pd.Timestamp("2023-12-31T23:00:00Z").value)
    assert frame.fields[1].values == [1.0, None, 3.0]
    plain = Frame.from_pandas(data.reset_index(drop=True))
    assert [f.name for f in plain.fields] == ["a", "s"]


def test_polars_frame_strings_become_utf8() -> None:
    data = pl.DataFrame(
        {"t": [datetime(2024, 1, 1)], "s": ["ü"], "i": pl.Series([7], dtype=pl.Int16)}
    )
    frame = Frame.from_polars(data)
    assert [f.type for f in frame.fields] == [FieldType.TIME, FieldType.STRING, FieldType.INT16]
    assert frame.fields[0].values == [1_704_067_200 * NS]
    assert frame.to_arrow().schema.field("s").type == pa.string()


def test_pyarrow_table_and_round_trip_to_pandas() -> None:
    table = pa.table({"t": pa.array([0, NS], pa.timestamp("ns")), "v": [1, 2]})
    frame = Frame.from_arrow(table, "arrow")
    assert [f.nullable for f in frame.fields] == [False, False]  # pyarrow's default True ignored
    back = frame.to_pandas()
    assert list(back.columns) == ["t", "v"]
    assert back["t"].iloc[1] == pd.Timestamp("1970-01-01T00:00:01")


def test_frame_validate_names_the_short_field() -> None:
    frame = Frame("f", [Field("a", [1, 2]), Field("b", [1])])
    with pytest.raises(FrameError) as caught:
        frame.validate()
    assert (caught.value.field, caught.value.frame) == ("b", "f")
    with pytest.raises(FrameError, match="equally long"):
        frame.encode()


def test_frame_accepts_plain_json_meta_and_config() -> None:
    frame = Frame(
        "x",
        [Field("a", [1], config={"unit": "ms", "decimals": 2}, labels={"k": "v"})],
        meta={"executedQueryString": "q", "instant": True},  # type: ignore[arg-type]
    )
    assert frame.fields[0].config == FieldConfig(unit="ms", decimals=2)
    assert frame.meta == FrameMeta(executed_query_string="q", extra={"instant": True})
    frame.ref_id = "B"  # the dispatcher fills empty refIds (contract 4.2)
    assert Frame.decode(frame.encode()).ref_id == "B"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Field("a", [1], labels={"k": 1}), "keys and values must be str"),  # type: ignore[dict-item]
        (lambda: FieldConfig(decimals=1.5), "decimals must be an int in 0..65535"),  # type: ignore[arg-type]
        (lambda: FieldConfig(decimals=-1), "decimals must be an int in 0..65535"),
        (lambda: FieldConfig.from_json({"decimals": 2.5}), "decimals"),
        (lambda: FieldConfig(null_value_mode="zero"), "null_value_mode"),  # type: ignore[arg-type]
        (lambda: FieldConfig(custom={"x": math.nan}), "NaN"),
        (lambda: FieldConfig(extra={"unit": "s"}), "repeats known keys"),
        (lambda: ValueMapping(value=5), "must be str"),  # type: ignore[arg-type]
        (lambda: ValueMapping(id=40000), "int16"),
        (lambda: ThresholdsConfig(mode="relative"), "thresholds mode"),  # type: ignore[arg-type]
        (lambda: Notice("x", severity="critical"), "notice severity"),  # type: ignore[arg-type]
        (lambda: Notice("x", inspect="meta"), "notice inspect must be an int"),  # type: ignore[arg-type]
        (lambda: Notice.from_json({"text": "x", "inspect": 9}), "inspect"),
        (lambda: QueryStat(math.inf), "finite"),
        (lambda: FrameMeta(custom={1, 2}), "JSON"),
        (
            lambda: Frame("f", [Field("a", [1])], meta={"notices": [{"severity": "x"}]}),  # type: ignore[arg-type]
            "severity",
        ),
    ],
)
def test_values_go_would_reject_are_refused_when_built(build: Any, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        build()


def test_non_finite_limits_are_written_as_null() -> None:
    config = FieldConfig(
        min=math.inf, max=-math.nan, thresholds=ThresholdsConfig(steps=[Threshold()])
    )
    assert config.to_json() == {
        "min": None,
        "max": None,
        "thresholds": {"mode": "absolute", "steps": [{"value": None}]},
    }
    assert FieldConfig.from_json(config.to_json()) == config
    assert FieldConfig.from_json({}) == FieldConfig()


def test_notice_inspect_zero_means_absent() -> None:
    assert Notice("x", inspect=0).to_json() == {"severity": "info", "text": "x"}  # type: ignore[arg-type]


def test_duplicate_names_and_field_lookup() -> None:
    frame = Frame("d", [Field("t", [1], type="time"), Field("t", [2], type="time")])
    assert frame.field("t").values == [1]
    assert [f.values for f in Frame.decode(frame.encode()).fields] == [[1], [2]]
    with pytest.raises(KeyError):
        frame.field("missing")


def test_datetimes_view_and_repr() -> None:
    field = Field("t", [1_500, None], type="time")
    assert field.datetimes() == [datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC), None]
    assert repr(field) == "Field('t', time?, rows=2)"
    assert "rows=2" in repr(Frame("x", [field]))
