"""The project's own Arrow IPC writer (``frame/_ipc.py``) against pyarrow's (contract 4.1-4.4).

pyarrow reads our bytes back to exactly the schema, metadata and values its own writer
produces for the same frame (``_arrow.encode_frame``, the writer used before issue #19), on a
matrix of every type and on random frames (hypothesis). tests/interop/test_frame_writer.py
shows the same with Plutono's two real decoders.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plutono_plugin.frame import Field, FieldType, Frame
from plutono_plugin.frame._arrow import encode_frame as pyarrow_encode
from plutono_plugin.frame._ipc import encode_frame
from plutono_plugin.frame.config import FieldConfig
from plutono_plugin.frame.meta import FrameMeta
from plutono_plugin.frame.types import INT_RANGES


def _read(data: bytes) -> tuple[pa.Schema, list[pa.RecordBatch]]:
    reader = ipc.open_file(pa.py_buffer(data))
    return reader.schema, [reader.get_batch(i) for i in range(reader.num_record_batches)]


def _same_values(left: list[Any], right: list[Any]) -> bool:
    if len(left) != len(right):
        return False
    for mine, theirs in zip(left, right, strict=True):
        if isinstance(mine, float) and isinstance(theirs, float):
            if struct.pack("<d", mine) != struct.pack("<d", theirs) and not (
                math.isnan(mine) and math.isnan(theirs)
            ):
                return False
        elif mine != theirs or type(mine) is not type(theirs):
            return False
    return True


def assert_same_as_pyarrow(frame: Frame) -> None:
    """Our bytes and pyarrow's decode to the same schema, metadata, batches and values."""
    ours, theirs = _read(encode_frame(frame)), _read(pyarrow_encode(frame))
    assert ours[0].equals(theirs[0], check_metadata=True)
    assert [dict(f.metadata or {}) for f in ours[0]] == [dict(f.metadata or {}) for f in theirs[0]]
    assert len(ours[1]) == len(theirs[1])
    for mine, reference in zip(ours[1], theirs[1], strict=True):
        assert mine.num_rows == reference.num_rows
        for column, expected in zip(mine.columns, reference.columns, strict=True):
            assert column.null_count == expected.null_count
            if pa.types.is_timestamp(column.type):  # int64 nanoseconds, not datetimes
                column, expected = column.cast(pa.int64()), expected.cast(pa.int64())
            assert _same_values(column.to_pylist(), expected.to_pylist())
    assert Frame.decode(encode_frame(frame)) == frame


SAMPLES: dict[FieldType, list[Any]] = {
    **{t: [low, 0, high] for t, (low, high) in INT_RANGES.items()},
    FieldType.FLOAT32: [-3.4028234663852886e38, math.nan, math.inf],
    FieldType.FLOAT64: [-math.inf, -0.0, 1.7976931348623157e308],
    FieldType.STRING: ["", "Grafana ❤️ 🦥", "x" * 9],
    FieldType.BOOL: [True, False, True],
    FieldType.TIME: [-(2**63), -1_234_567_891, 2**63 - 1],
}


@pytest.mark.parametrize("field_type", list(FieldType))
@pytest.mark.parametrize("nullable", [False, True])
@pytest.mark.parametrize("rows", [0, 1, 3])
@pytest.mark.parametrize("decorated", [False, True])
def test_every_type_reads_back_like_pyarrows_file(
    field_type: FieldType, nullable: bool, rows: int, decorated: bool
) -> None:
    values = SAMPLES[field_type][:rows]
    if nullable and rows:
        values[rows // 2] = None
    extra: dict[str, Any] = {}
    if decorated:
        extra = {"labels": {"host": "ä"}, "config": FieldConfig(unit="s", decimals=2)}
    field = Field("v ü", values, type=field_type, nullable=nullable, **extra)
    meta = FrameMeta(executed_query_string="SELECT 1") if decorated else None
    assert_same_as_pyarrow(
        Frame("f", [field, Field("n", list(range(rows)), type="int64")], ref_id="A", meta=meta)
    )


def test_frame_without_fields_has_no_record_batch() -> None:
    schema, batches = _read(encode_frame(Frame("nothing", ref_id="Z")))
    assert (len(schema), batches) == (0, [])
    assert schema.metadata == {b"name": b"nothing", b"refId": b"Z"}


def test_layout_is_v4_messages_eight_byte_aligned_with_a_footer() -> None:
    data = encode_frame(Frame("x", [Field("s", ["a", None, "bcd"] * 3), Field("b", [True] * 9)]))
    assert data[:8] == b"ARROW1\x00\x00" and data[-6:] == b"ARROW1"
    reader = ipc.MessageReader.open_stream(pa.py_buffer(data[8:]))
    messages = list(reader)
    assert [m.type for m in messages] == ["schema", "record batch"]
    assert {m.metadata_version for m in messages} == {ipc.MetadataVersion.V4}
    (footer_size,) = struct.unpack("<i", data[-10:-6])
    footer = data[-10 - footer_size : -10]
    root = struct.unpack_from("<I", footer)[0]
    vtable = root - struct.unpack_from("<i", footer, root)[0]
    version_offset = struct.unpack_from("<H", footer, vtable + 4)[0]
    assert struct.unpack_from("<h", footer, root + version_offset)[0] == 3  # V4 (contract 4.1)
    assert (len(data) - 10 - footer_size) % 8 == 0


def test_numpy_columns_are_written_without_a_copy() -> None:
    values = np.arange(1000, dtype=np.float64)
    field = Field("v", values)
    assert field._wire_column().data.obj is values  # type: ignore[union-attr]
    values[0] = 42.0  # shared memory: the encoder reads the array itself
    assert Frame.decode(Frame("x", [field]).encode()).fields[0].values[0] == 42.0


def test_numpy_inputs_match_pyarrows_conversion() -> None:
    stamps = np.array(["2024-01-01", "NaT", "1970-01-01T00:00:01"], dtype="datetime64[ms]")
    masked = np.ma.masked_array([1, 2, 3], mask=[False, True, False], dtype=np.int16)
    frame = Frame(
        "n",
        [
            Field("t", stamps),
            Field("days", np.array(["2024-02-29", "1900-01-01", "2262-01-01"], "datetime64[D]")),
            Field("m", masked),
            Field("half", np.array([1.5, -2.0, 65504], dtype=np.float16)),
            Field("flags", np.array([True, False, True])),
            Field("big_endian", np.array([1.5, 2.5, 3.5], dtype=">f8")),
            Field("strided", np.arange(6, dtype=np.uint32)[::2]),
            Field("text", np.array(["a", "bé", ""])),
        ],
    )
    assert frame.fields[0].values == [1704067200_000000000, None, 1_000_000_000]
    assert frame.fields[2].values == [1, None, 3]
    assert frame.fields[3].type is FieldType.FLOAT32
    assert frame.fields[4].values == [True, False, True]
    assert frame.fields[5].values == [1.5, 2.5, 3.5]
    assert frame.fields[6].values == [0, 2, 4]
    reference = Frame(
        "n", [Field(f.name, pa.array(f.values, f.to_arrow().type)) for f in frame.fields]
    )
    assert reference == frame
    assert_same_as_pyarrow(frame)


def test_numpy_times_out_of_range_and_bad_casts_are_refused() -> None:
    from plutono_plugin.errors import FrameError

    with pytest.raises(FrameError, match="field 't': time values outside the int64"):
        Field("t", np.array(["2300-01-01"], dtype="datetime64[s]"))
    with pytest.raises(FrameError, match="cannot convert int64 to int8"):
        Field("i", np.array([1000]), type="int8")
    with pytest.raises(FrameError, match="cannot convert float64 to int64"):
        Field("f", np.array([1.5]), type="int64")
    with pytest.raises(FrameError, match="numpy dtype complex128 is not supported"):
        Field("c", np.array([1j]))
    assert Field("i", np.array([1, 2]), type="float32").values == [1.0, 2.0]
    masked = np.ma.masked_invalid([3.0, np.nan])  # the masked NaN is a null, not a value
    assert Field("f", masked, type="int8").values == [3, None]


def test_sliced_pyarrow_arrays_are_written_from_offset_zero() -> None:
    strings = pa.array(["skip", None, "a", "bc", None, "d"])[2:]
    flags = pa.array([True, False, None, True, False, True, True, False, True, None])[3:]
    numbers = pa.array([1.0, None, 3.0, 4.0, 5.0])[1:]
    frame = Frame("s", [Field("s", strings), Field("b", flags[:4]), Field("n", numbers[:4])])
    assert frame.fields[0].values == ["a", "bc", None, "d"]
    assert Field("b", flags).values == [True, False, True, True, False, True, None]
    assert_same_as_pyarrow(frame)
    assert_same_as_pyarrow(Frame("b", [Field("b", flags)]))


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)


def _values(field_type: FieldType) -> st.SearchStrategy[Any]:
    if field_type in INT_RANGES:
        low, high = INT_RANGES[field_type]
        return st.integers(low, high)
    if field_type is FieldType.FLOAT32:
        return st.floats(width=32)
    if field_type is FieldType.FLOAT64:
        return st.floats()
    if field_type is FieldType.STRING:
        return _TEXT
    if field_type is FieldType.BOOL:
        return st.booleans()
    return st.integers(*INT_RANGES[FieldType.INT64])


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    """Random frames: any types, nulls, lengths, labels, config and meta."""
    rows = draw(st.integers(0, 40))
    fields = []
    for _ in range(draw(st.integers(0, 5))):
        field_type = draw(st.sampled_from(list(FieldType)))
        nullable = draw(st.booleans())
        element = _values(field_type)
        if nullable:
            element = st.none() | element
        values = draw(st.lists(element, min_size=rows, max_size=rows))
        labels = draw(st.none() | st.dictionaries(_TEXT, _TEXT, max_size=3))
        config = draw(st.none() | st.builds(FieldConfig, unit=_TEXT, display_name=_TEXT))
        fields.append(
            Field(
                draw(_TEXT),
                values,
                type=field_type,
                nullable=nullable,
                labels=labels,
                config=config,
            )
        )
    meta = draw(st.none() | st.builds(FrameMeta, executed_query_string=_TEXT))
    return Frame(draw(_TEXT), fields, ref_id=draw(_TEXT), meta=meta)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_random_frames_read_back_like_pyarrows_file(frame: Frame) -> None:
    assert_same_as_pyarrow(frame)
