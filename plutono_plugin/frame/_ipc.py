"""Frames as Arrow IPC *file* bytes, written without an Arrow library (contract 4.1-4.4).

Plutono 7.5 decodes frames with a June-2020 Go Arrow (alerting, expressions) and
apache-arrow 0.16.0 in the browser; the file written here is what SDK v0.88.0's
``MarshalArrow`` writes: the IPC file format (Go reads the footer, contract 4.7), metadata V4,
no compression (both decoders read compressed bodies as garbage), one record batch when the
frame has fields (none for a frame without fields, contract 4.1), ``timestamp[ns]`` without a
time zone, ``utf8`` strings and each field's nullable flag as declared.

The metadata are flatbuffers tables of Arrow's published ``Schema.fbs``, ``Message.fbs`` and
``File.fbs`` (format version 1.0, stable since 2020), built with the ``flatbuffers`` runtime:
the few tables a flat frame needs are written out below, each slot numbered as in those files.
The body is the fields' buffers (:mod:`._columns`) each padded to 8 bytes, joined once.

Layout::

    "ARROW1" 00 00
    message: FFFFFFFF, int32 size, Message{Schema}, padding to 8
    message: FFFFFFFF, int32 size, Message{RecordBatch}, padding to 8, body
    FFFFFFFF 00000000                         end of stream
    Footer{Schema, [Block of the batch]}, int32 footer size, "ARROW1"
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from flatbuffers import Builder

from ..errors import FrameError
from ._columns import Column
from .config import dump_json
from .types import FieldType

if TYPE_CHECKING:
    from .model import Frame

__all__ = ("encode_frame",)

_MAGIC = b"ARROW1"
_CONTINUATION = b"\xff\xff\xff\xff"
_END_OF_STREAM = _CONTINUATION + b"\x00\x00\x00\x00"
_METADATA_V4 = 3  # Schema.fbs MetadataVersion: V1 = 0 … V4 = 3 (contract 4.1)
_HEADER_SCHEMA, _HEADER_RECORD_BATCH = 1, 3  # Message.fbs MessageHeader union
_INT32 = struct.Struct("<i")
_PADDING = bytes(8)

# Schema.fbs ``Type`` union members and their parameters: (type id, table slots).
_TYPE_INT, _TYPE_FLOAT, _TYPE_UTF8, _TYPE_BOOL, _TYPE_TIMESTAMP = 2, 3, 5, 6, 10
_NANOSECOND = 3  # TimeUnit
_PRECISION = {FieldType.FLOAT32: 1, FieldType.FLOAT64: 2}  # FloatingPoint.precision
_INT_WIDTHS = {
    FieldType.INT8: (8, True),
    FieldType.INT16: (16, True),
    FieldType.INT32: (32, True),
    FieldType.INT64: (64, True),
    FieldType.UINT8: (8, False),
    FieldType.UINT16: (16, False),
    FieldType.UINT32: (32, False),
    FieldType.UINT64: (64, False),
}

_SchemaFields = list[tuple[str, FieldType, bool, list[tuple[str, str]]]]


def _type_table(builder: Builder, field_type: FieldType) -> tuple[int, int]:
    """Build the ``Type`` union member of ``field_type``; return (union type, offset)."""
    if field_type in _INT_WIDTHS:
        width, signed = _INT_WIDTHS[field_type]
        builder.StartObject(2)  # Int { bitWidth: int; is_signed: bool }
        builder.PrependInt32Slot(0, width, 0)
        builder.PrependBoolSlot(1, signed, False)
        return _TYPE_INT, builder.EndObject()
    if field_type in _PRECISION:
        builder.StartObject(1)  # FloatingPoint { precision: Precision (short) }
        builder.PrependInt16Slot(0, _PRECISION[field_type], 0)
        return _TYPE_FLOAT, builder.EndObject()
    if field_type is FieldType.TIME:
        builder.StartObject(2)  # Timestamp { unit: TimeUnit (short); timezone: string }
        builder.PrependInt16Slot(0, _NANOSECOND, 0)  # no timezone (contract 4.4)
        return _TYPE_TIMESTAMP, builder.EndObject()
    builder.StartObject(0)  # Utf8 {} / Bool {}
    return (_TYPE_UTF8 if field_type is FieldType.STRING else _TYPE_BOOL), builder.EndObject()


def _offsets_vector(builder: Builder, offsets: list[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _key_values(builder: Builder, pairs: list[tuple[str, str]]) -> int:
    tables = []
    for key, value in pairs:
        key_offset, value_offset = builder.CreateString(key), builder.CreateString(value)
        builder.StartObject(2)  # KeyValue { key: string; value: string }
        builder.PrependUOffsetTRelativeSlot(0, key_offset, 0)
        builder.PrependUOffsetTRelativeSlot(1, value_offset, 0)
        tables.append(builder.EndObject())
    return _offsets_vector(builder, tables)


def _schema(builder: Builder, fields: _SchemaFields, metadata: list[tuple[str, str]]) -> int:
    tables = []
    for name, field_type, nullable, field_metadata in fields:
        name_offset = builder.CreateString(name)
        type_id, type_offset = _type_table(builder, field_type)
        children = _offsets_vector(builder, [])
        custom = _key_values(builder, field_metadata)
        # Field { name; nullable; type_type; type; dictionary; children; custom_metadata }
        builder.StartObject(7)
        builder.PrependUOffsetTRelativeSlot(0, name_offset, 0)
        builder.PrependBoolSlot(1, nullable, False)
        builder.PrependUint8Slot(2, type_id, 0)
        builder.PrependUOffsetTRelativeSlot(3, type_offset, 0)
        builder.PrependUOffsetTRelativeSlot(5, children, 0)
        builder.PrependUOffsetTRelativeSlot(6, custom, 0)
        tables.append(builder.EndObject())
    field_vector = _offsets_vector(builder, tables)
    custom = _key_values(builder, metadata)
    builder.StartObject(4)  # Schema { endianness (Little = 0); fields; custom_metadata; features }
    builder.PrependUOffsetTRelativeSlot(1, field_vector, 0)
    builder.PrependUOffsetTRelativeSlot(2, custom, 0)
    return builder.EndObject()


def _message(builder: Builder, header_type: int, header: int, body_length: int) -> bytes:
    """Finish a Message and frame it: continuation, size, flatbuffer, padding to 8 bytes."""
    # Message { version; header_type; header; bodyLength: long; custom_metadata }
    builder.StartObject(5)
    builder.PrependInt64Slot(3, body_length, 0)
    builder.PrependUOffsetTRelativeSlot(2, header, 0)
    builder.PrependInt16Slot(0, _METADATA_V4, 0)
    builder.PrependUint8Slot(1, header_type, 0)
    builder.Finish(builder.EndObject())
    flatbuffer = builder.Output()
    padding = -(len(flatbuffer) + 8) % 8
    return b"".join(
        (_CONTINUATION, _INT32.pack(len(flatbuffer) + padding), flatbuffer, _PADDING[:padding])
    )


def _record_batch(builder: Builder, length: int, columns: list[Column]) -> tuple[int, list[bytes | memoryview], int]:
    """Build the RecordBatch table; return it, the body's parts and the body's length."""
    nodes: list[tuple[int, int]] = []
    buffers: list[tuple[int, int]] = []
    body: list[bytes | memoryview] = []
    position = 0
    for column in columns:
        nodes.append((column.length, column.null_count))
        parts = (column.validity if column.null_count else None, column.offsets, column.data)
        for index, part in enumerate(parts):
            if part is None:
                if index == 1:
                    continue  # only strings have offsets
                buffers.append((position, 0))
                continue
            view = memoryview(part).cast("B")
            buffers.append((position, view.nbytes))
            padding = -view.nbytes % 8
            body.append(view)
            if padding:
                body.append(_PADDING[:padding])
            position += view.nbytes + padding
    builder.StartVector(16, len(buffers), 8)  # struct Buffer { offset: long; length: long }
    for offset, size in reversed(buffers):
        builder.Prep(8, 16)
        builder.PrependInt64(size)
        builder.PrependInt64(offset)
    buffer_vector = builder.EndVector()
    builder.StartVector(16, len(nodes), 8)  # struct FieldNode { length: long; null_count: long }
    for rows, nulls in reversed(nodes):
        builder.Prep(8, 16)
        builder.PrependInt64(nulls)
        builder.PrependInt64(rows)
    node_vector = builder.EndVector()
    builder.StartObject(4)  # RecordBatch { length: long; nodes; buffers; compression }
    builder.PrependInt64Slot(0, length, 0)
    builder.PrependUOffsetTRelativeSlot(1, node_vector, 0)
    builder.PrependUOffsetTRelativeSlot(2, buffer_vector, 0)
    return builder.EndObject(), body, position


def _footer(fields: _SchemaFields, metadata: list[tuple[str, str]], blocks: list[tuple[int, int, int]]) -> bytes:
    builder = Builder(256 + 64 * len(fields))
    schema = _schema(builder, fields, metadata)
    vectors = []
    for entries in ([], blocks):  # dictionaries (none), recordBatches
        # struct Block { offset: long; metaDataLength: int; (4 bytes padding) bodyLength: long }
        builder.StartVector(24, len(entries), 8)
        for offset, metadata_length, body_length in reversed(entries):
            builder.Prep(8, 24)
            builder.PrependInt64(body_length)
            builder.Pad(4)
            builder.PrependInt32(metadata_length)
            builder.PrependInt64(offset)
        vectors.append(builder.EndVector())
    builder.StartObject(5)  # Footer { version; schema; dictionaries; recordBatches; custom_metadata }
    builder.PrependUOffsetTRelativeSlot(1, schema, 0)
    builder.PrependUOffsetTRelativeSlot(2, vectors[0], 0)
    builder.PrependUOffsetTRelativeSlot(3, vectors[1], 0)
    builder.PrependInt16Slot(0, _METADATA_V4, 0)
    builder.Finish(builder.EndObject())
    return builder.Output()  # type: ignore[no-any-return]


def encode_frame(frame: Frame) -> bytes:
    """Encode ``frame`` as one Arrow IPC file the way SDK v0.88.0 does (contract 4.1).

    Example::

        payload = encode_frame(Frame("x", [Field("v", [1.0])]))
        assert payload[:6] == b"ARROW1"
    """
    frame.validate()
    fields: _SchemaFields = []
    columns = []
    for item in frame.fields:
        metadata = [("name", item.name)]  # contract 4.3: always written
        if item.labels is not None:
            metadata.append(("labels", dump_json(item.labels)))
        if item.config is not None:
            metadata.append(("config", dump_json(item.config.to_json())))
        column = item._wire_column()
        if not item.nullable and column.null_count:
            # Go ignores the null bitmap of a non-nullable column: nulls would read as values.
            raise FrameError("non-nullable field holds nulls", field=item.name, frame=frame.name)
        fields.append((item.name, item.type, item.nullable, metadata))
        columns.append(column)
    metadata = [("name", frame.name), ("refId", frame.ref_id)]  # contract 4.2
    if frame.meta is not None:
        metadata.append(("meta", frame.meta.to_text()))

    builder = Builder(256 + 64 * len(fields))
    schema_message = _message(builder, _HEADER_SCHEMA, _schema(builder, fields, metadata), 0)
    parts: list[bytes | memoryview] = [_MAGIC, b"\x00\x00", schema_message]
    position = 8 + len(schema_message)
    blocks = []
    if columns:
        builder = Builder(128 + 48 * len(columns))
        batch, body, body_length = _record_batch(builder, frame.rows, columns)
        batch_message = _message(builder, _HEADER_RECORD_BATCH, batch, body_length)
        blocks.append((position, len(batch_message), body_length))
        parts.append(batch_message)
        parts.extend(body)
    footer = _footer(fields, metadata, blocks)
    parts += [_END_OF_STREAM, footer, _INT32.pack(len(footer)), _MAGIC]
    return b"".join(parts)
