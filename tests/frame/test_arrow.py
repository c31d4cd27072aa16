"""Arrow encoding: the SDK's golden vector, the wire format, and the traps of contract 4.9."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from plutono_plugin.errors import FrameError
from plutono_plugin.frame import Field, FieldType, Frame
from plutono_plugin.frame._arrow import encode_frame
from plutono_plugin.frame.config import DataLink, FieldConfig
from plutono_plugin.frame.meta import FrameMeta
from tests._tools import shared_vector

GOLDEN_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
GOLDEN_TYPES += ["float32", "float64", "bool"]


@pytest.fixture(scope="module")
def golden_bytes() -> bytes:
    return shared_vector("all_types.golden.arrow").read_bytes()


@pytest.mark.vectors
def test_golden_vector_decodes_to_exactly_what_pyarrow_reads(golden_bytes: bytes) -> None:
    table = ipc.open_file(pa.py_buffer(golden_bytes)).read_all()
    frame = Frame.decode(golden_bytes)
    assert (frame.name, frame.ref_id) == ("many_types", "A")
    assert frame.meta == FrameMeta(custom={"Hi": "there"})
    assert [f.name for f in frame.fields] == table.schema.names
    assert [f.name for f in frame.fields].count("timestamps") == 2
    for index, (field, arrow_field) in enumerate(zip(frame.fields, table.schema, strict=True)):
        assert field.nullable == arrow_field.nullable
        column = table.column(index)
        if field.type is FieldType.TIME:
            expected = column.cast(pa.int64()).to_pylist()
        else:
            expected = column.to_pylist()
        assert field.values == expected, field.name
        metadata = arrow_field.metadata
        labels = json.loads(metadata[b"labels"]) if b"labels" in metadata else None
        assert field.labels == labels
        config = json.loads(metadata[b"config"]) if b"config" in metadata else None
        assert (field.config.to_json() if field.config else None) == config
    assert frame.field("int64_values").values[0] == -(2**63)
    assert frame.field("nullable_timestamps").values[3] == 9_007_199_254_740_991
    heart = frame.field("nullable_string_values").config
    assert heart is not None and "❤️" in heart.display_name and heart.no_value == "😤"


def _golden_by_hand() -> Frame:
    """The golden frame rebuilt with our API from the facts in shared/vectors/README.md."""
    limits = {
        "int8": (-128, 127),
        "int16": (-32768, 32767),
        "int32": (-(2**31), 2**31 - 1),
        "int64": (-(2**63), 2**63 - 1),
    }
    js_max = 2**53 - 1
    rows: dict[str, list[Any]] = {
        "string": [
            "Go Min",
            "JS Min (for >= 64)",
            "0 / nil / misc",
            "JS Max (for >= 64)",
            "Go Max",
        ],
        "int8": [-128, -128, 0, 127, 127],
        "int16": [-32768, -32768, 0, 32767, 32767],
        "int32": [-(2**31), -(2**31), 1, 2**31 - 1, 2**31 - 1],
        "int64": [-(2**63), -js_max, 1, js_max, 2**63 - 1],
        "uint8": [0, 0, 1, 255, 255],
        "uint16": [0, 0, 1, 65535, 65535],
        "uint32": [0, 0, 1, 2**32 - 1, 2**32 - 1],
        "uint64": [0, 0, 1, js_max, 2**64 - 1],
        "float32": [
            1.401298464324817e-45,
            1.401298464324817e-45,
            1.0,
            3.4028234663852886e38,
            3.4028234663852886e38,
        ],
        "float64": [5e-324, -float(js_max), 1.0, float(js_max), 1.7976931348623157e308],
        "bool": [True, False, True, True, False],
    }
    assert set(limits) <= set(rows)
    nullable_rows = {key: [*values[:2], None, *values[3:]] for key, values in rows.items()}
    nullable_rows["string"] = [
        "Grafana",
        "❤️",
        None,
        "🦥",
        "update your unicode/font if no sloth, is 2019.",
    ]
    nullable_rows["float64"] = [5e-324, -float(js_max), None, 1.7976931348623157e308, float(js_max)]
    heart = FieldConfig(
        display_name="Grafana ❤️ (Previous should be heart emoji) 🦥 "
        "(Previous should be sloth emoji)",
        filterable=False,
        decimals=2,
        min=math.nan,
        max=math.nan,
        null_value_mode="null",
        links=[
            DataLink(
                "Donate - The Sloth Conservation Foundation",
                "https://slothconservation.com/how-to-help/donate/",
                True,
            )
        ],
        no_value="😤",
    )
    fields = []
    for key in ["string", *GOLDEN_TYPES]:
        fields.append(Field(f"{key}_values", rows[key], type=key))
        fields.append(Field(f"nullable_{key}_values", nullable_rows[key], type=key, nullable=True))
    fields[0].labels = {"aLabelKey": "aLabelValue"}
    fields[0].config = FieldConfig()
    fields[1].labels = {"aLabelKey": "aLabelValue", "bLabelKey": "bLabelValue"}
    fields[1].config = heart
    fields[2].config = FieldConfig(min=0, max=1)
    times = [0, 1568039445 * 10**9, 1568039450 * 10**9, js_max, 2**63 - 1]
    fields.append(Field("timestamps", times, type="time"))
    fields.append(Field("timestamps", times, type="time"))
    fields.append(Field("nullable_timestamps", [*times[:2], None, *times[3:]], type="time"))
    return Frame("many_types", fields, ref_id="A", meta=FrameMeta(custom={"Hi": "there"}))


@pytest.mark.vectors
def test_golden_frame_built_with_our_api_encodes_to_the_same_content(golden_bytes: bytes) -> None:
    ours = _golden_by_hand()
    assert Frame.decode(golden_bytes) == ours
    assert Frame.decode(ours.encode()) == ours
    assert Frame.decode(encode_frame(ours)) == Frame.decode(golden_bytes)


def _messages(data: bytes) -> list[Any]:
    """The IPC messages of a file (after the 8-byte magic), as pyarrow parses them."""
    reader = pa.BufferReader(pa.py_buffer(data)[8:])
    messages = []
    while True:
        try:
            message = ipc.read_message(reader)
        except (OSError, pa.ArrowInvalid):
            break
        if message is None:
            break
        messages.append(message)
        if message.type == "record batch":
            break
    return messages


def test_encoding_is_an_uncompressed_v4_ipc_file_with_one_batch() -> None:
    values = np.zeros(1000)  # LZ4 would shrink this body to a few bytes
    data = Frame("z", [Field("v", values), Field("s", ["x"] * 1000)]).encode()
    assert data[:6] == b"ARROW1" and data[-6:] == b"ARROW1"  # file, not stream (contract 4.7)
    reader = ipc.open_file(pa.py_buffer(data))
    assert reader.num_record_batches == 1
    messages = _messages(data)
    assert [m.type for m in messages] == ["schema", "record batch"]
    assert {m.metadata_version for m in messages} == {ipc.MetadataVersion.V4}
    assert messages[1].body.size >= values.nbytes  # not compressed
    schema = reader.schema
    assert schema.field("v").type == pa.float64() and not schema.field("v").nullable
    assert schema.field("s").type == pa.string()
    assert schema.metadata == {b"name": b"z", b"refId": b""}  # no meta key without meta
    assert schema.field("v").metadata == {b"name": b"v"}


def test_empty_frame_and_zero_rows_encode() -> None:
    assert Frame.decode(Frame("nothing").encode()) == Frame("nothing")
    zero = Frame(
        "zero", [Field("t", [], type="time"), Field("v", [], type="float64", nullable=True)]
    )
    assert Frame.decode(zero.encode()) == zero


def _stream(table: pa.Table, **options: Any) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema, options=ipc.IpcWriteOptions(**options)) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def _file(table: pa.Table, **options: Any) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema, options=ipc.IpcWriteOptions(**options)) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def test_trap_stream_format_input_is_read_and_written_back_as_a_file() -> None:
    data = _stream(pa.table({"v": [1.0, 2.0]}))
    frame = Frame.decode(data)
    assert frame.field("v").values == [1.0, 2.0]
    assert frame.encode()[:6] == b"ARROW1"


def test_trap_compressed_input_is_decompressed_and_never_emitted_compressed() -> None:
    data = _file(pa.table({"v": np.arange(1000, dtype=np.float64)}), compression="lz4")
    frame = Frame.decode(data)
    assert frame.field("v").values == list(map(float, range(1000)))
    assert _messages(frame.encode())[1].body.size >= 8000


def test_trap_timestamp_ms_becomes_nanoseconds() -> None:
    field = Field("t", pa.array([1_600_000_000_000], pa.timestamp("ms")))
    assert field.values == [1_600_000_000_000_000_000]
    assert field.to_arrow().type == pa.timestamp("ns")
    zoned = Field("z", pa.array([0], pa.timestamp("ns", tz="Asia/Tokyo")))
    assert zoned.to_arrow().type == pa.timestamp("ns") and zoned.values == [0]


@pytest.mark.parametrize(
    "array",
    [
        pa.array(["a", None, "ü"], pa.large_string()),
        pa.array(["a", None, "ü"], pa.string_view()),
        pa.array(["a", None, "ü"]).dictionary_encode(),
        pa.chunked_array([["a"], [None, "ü"]], pa.large_string()),
    ],
    ids=["large_string", "string_view", "dictionary", "chunked"],
)
def test_trap_strings_become_plain_utf8(array: Any) -> None:
    field = Field("s", array)
    assert (field.type, field.nullable, field.values) == (FieldType.STRING, True, ["a", None, "ü"])
    schema = ipc.open_file(pa.py_buffer(Frame("", [field]).encode())).schema
    assert schema.field("s").type == pa.string()


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (pa.array([1], pa.decimal128(5, 2)), "decimal128"),
        (pa.array([b"x"], pa.binary()), "binary"),
        (pa.array([[1]]), "nested"),
        (pa.array([{"a": 1}]), "nested"),
        (pa.array([1], pa.duration("s")), "not supported"),
        (pa.array([None]), "only nulls"),
    ],
)
def test_trap_unreadable_types_are_refused_naming_the_field(array: Any, reason: str) -> None:
    with pytest.raises(FrameError, match=reason) as caught:
        Frame.from_arrow(pa.table({"col": array}))
    assert caught.value.field == "col"


def test_trap_decoding_refuses_metadata_go_would_reject() -> None:
    table = pa.table({"v": [1]}).replace_schema_metadata(
        {"meta": '{"notices":[{"severity":"critical","text":"x"}]}'}
    )
    with pytest.raises(FrameError, match="severity"):
        Frame.decode(_file(table))
    labels = pa.schema([pa.field("v", pa.int64(), metadata={"labels": '{"a": 1}'})])
    with pytest.raises(FrameError, match="keys and values must be str") as caught:
        Frame.decode(_file(pa.table({"v": [1]}, schema=labels)))
    assert caught.value.field == "v"
    with pytest.raises(FrameError, match="not an Arrow IPC file or stream"):
        Frame.decode(b"garbage")
