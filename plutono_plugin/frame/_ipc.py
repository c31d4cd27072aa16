"""Frames as Arrow IPC *file* bytes, written without an Arrow library (contract 4.1-4.4).

Plutono 7.5 decodes frames with a June-2020 Go Arrow (alerting, expressions) and
apache-arrow 0.16.0 in the browser; the file written here is what SDK v0.88.0's
``MarshalArrow`` writes: the IPC file format (Go reads the footer, contract 4.7), metadata V4,
no compression (both decoders read compressed bodies as garbage), one record batch when the
frame has fields (none for a frame without fields, contract 4.1), ``timestamp[ns]`` without a
time zone, ``utf8`` strings and each field's nullable flag as declared.

The metadata are flatbuffers tables of Arrow's published ``Schema.fbs``, ``Message.fbs`` and
``File.fbs`` (format version 1.0, stable since 2020); the few a flat frame needs are listed
below with their slot numbers. They are laid out front to back by :func:`_flatten` (children
after parents, so every offset is a forward one; vtables just before their table): the
``flatbuffers`` runtime's back-to-front ``Builder`` cost 430 µs for a two-field frame, most of
a small query's budget (docs/benchmarks.md). A front-to-back subtree holds only relative
offsets, so the schema is flattened once and the same bytes serve the schema message and the
footer. The body is the fields' buffers (:mod:`._columns`) each padded to 8 bytes, joined once.

Layout::

    "ARROW1" 00 00
    message: FFFFFFFF, int32 size, Message{Schema}, padding to 8
    message: FFFFFFFF, int32 size, Message{RecordBatch}, padding to 8, body
    FFFFFFFF 00000000                         end of stream
    Footer{Schema, [Block of the batch]}, int32 footer size, "ARROW1"
"""

from __future__ import annotations

import functools
import struct
from typing import TYPE_CHECKING, NamedTuple, TypeAlias

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
_UINT32 = struct.Struct("<I")
_PADDING = bytes(8)


class _Shape:
    """A table type: its slots as ``(slot number, struct code)``; code ``"o"`` is a reference.

    The vtable and the inline layout (widest fields first, each aligned) are computed once, so
    placing a table is one ``struct.pack`` of its inline part.
    """

    def __init__(self, *slots: tuple[int, str]) -> None:
        order = sorted(range(len(slots)), key=lambda index: -_SIZES[slots[index][1]])
        fields = [0] * (max((slot for slot, _ in slots), default=-1) + 1)
        layout = "<i"
        size = 4  # the table starts with the int32 distance back to its vtable
        self.references: list[tuple[int, int]] = []  # (value index, offset in the table)
        for index in order:
            slot, code = slots[index]
            width = _SIZES[code]
            layout += "x" * (-size % width)
            size += -size % width
            fields[slot] = size
            if code == "o":
                self.references.append((index, size))
            layout += "I" if code == "o" else code
            size += width
        self.layout = [(index, slots[index][1] == "o") for index in order]
        self.inline = struct.Struct(layout)
        self.vtable = struct.pack(f"<{len(fields) + 2}H", 4 + 2 * len(fields), size, *fields)


class _Table(NamedTuple):
    """A table of ``shape`` with its values in slot order (a child object for a reference)."""

    shape: _Shape
    values: tuple[object, ...]


class _Structs(NamedTuple):
    """A vector of structs aligned to 8 bytes (already packed)."""

    length: int
    data: bytes


class _Flat(NamedTuple):
    """A flattened subtree (starts 8-aligned); ``entry`` is the referenced object's position."""

    data: bytes
    entry: int


_Object: TypeAlias = "_Table | _Structs | _Flat | str | list[_Object]"
_SIZES = {"b": 1, "B": 1, "?": 1, "h": 2, "i": 4, "q": 8, "o": 4}


def _place(out: bytearray, item: _Object) -> int:
    """Append ``item`` and its children to ``out``; return the position it is referenced at.

    Children come after their parent, so every reference is a forward (unsigned) offset.
    """
    children: list[tuple[int, _Object]]
    if isinstance(item, _Table):
        shape = item.shape
        out += bytes(len(out) & 1)
        vtable = len(out)
        out += shape.vtable
        out += bytes(-len(out) % 8)
        position = len(out)
        values = item.values
        inline = [0 if reference else values[index] for index, reference in shape.layout]
        out += shape.inline.pack(position - vtable, *inline)  # references patched below
        children = [(position + offset, values[index]) for index, offset in shape.references]  # type: ignore[misc]
    elif isinstance(item, str):
        out += bytes(-len(out) % 4)
        position = len(out)
        encoded = item.encode("utf-8")
        out += _UINT32.pack(len(encoded)) + encoded + b"\x00"
        return position
    elif isinstance(item, _Flat):
        out += bytes(-len(out) % 8)
        position = len(out)
        out += item.data
        return position + item.entry
    elif isinstance(item, _Structs):
        out += bytes(-(len(out) + 4) % 8)  # the elements, after the length, are 8-aligned
        position = len(out)
        out += _UINT32.pack(item.length) + item.data
        return position
    else:  # a vector of tables or strings
        out += bytes(-len(out) % 4)
        position = len(out)
        out += _UINT32.pack(len(item)) + bytes(4 * len(item))
        children = [(position + 4 + 4 * index, child) for index, child in enumerate(item)]
    for reference, child in children:
        _UINT32.pack_into(out, reference, _place(out, child) - reference)
    return position


def _flatten(root: _Object) -> _Flat:
    """Lay out ``root`` and its subtree from position 0 (8-aligned when embedded)."""
    out = bytearray()
    entry = _place(out, root)
    out += bytes(-len(out) % 8)
    return _Flat(bytes(out), entry)


def _finish(root: _Table) -> bytes:
    """A complete flatbuffer: the root offset, then the root table and its subtree."""
    out = bytearray(8)  # root uoffset, padding to keep the tables 8-aligned
    _UINT32.pack_into(out, 0, _place(out, root))
    out += bytes(-len(out) % 8)  # a message's body must start 8-aligned
    return bytes(out)


# Schema.fbs, Message.fbs, File.fbs tables, slots as numbered there.
_INT = _Shape((0, "i"), (1, "?"))  # Int { bitWidth: int; is_signed: bool }
_FLOATING_POINT = _Shape((0, "h"))  # FloatingPoint { precision: SINGLE = 1, DOUBLE = 2 }
_EMPTY = _Shape()  # Utf8 {}, Bool {}
_TIMESTAMP = _Shape((0, "h"))  # Timestamp { unit: NANOSECOND = 3; timezone: absent }
_KEY_VALUE = _Shape((0, "o"), (1, "o"))  # KeyValue { key: string; value: string }
# Field { name; nullable; type_type; type; dictionary (4, absent); children; custom_metadata }
_FIELD = _Shape((0, "o"), (1, "?"), (2, "B"), (3, "o"), (5, "o"), (6, "o"))
_SCHEMA = _Shape((1, "o"), (2, "o"))  # Schema { endianness: Little = 0; fields; custom_metadata }
_MESSAGE = _Shape(
    (0, "h"), (1, "B"), (2, "o"), (3, "q")
)  # version, header_type, header, bodyLength
_RECORD_BATCH = _Shape((0, "q"), (1, "o"), (2, "o"))  # length; nodes; buffers
_FOOTER = _Shape((0, "h"), (1, "o"), (2, "o"), (3, "o"))  # version; schema; dictionaries; batches

# The ``Type`` union member of each field type: (union type id, flattened table).
_TYPES: dict[FieldType, tuple[int, _Flat]] = {
    **{
        FieldType(f"{sign}int{bits}"): (2, _flatten(_Table(_INT, (bits, not sign))))
        for sign in ("", "u")
        for bits in (8, 16, 32, 64)
    },
    FieldType.FLOAT32: (3, _flatten(_Table(_FLOATING_POINT, (1,)))),
    FieldType.FLOAT64: (3, _flatten(_Table(_FLOATING_POINT, (2,)))),
    FieldType.STRING: (5, _flatten(_Table(_EMPTY, ()))),
    FieldType.BOOL: (6, _flatten(_Table(_EMPTY, ()))),
    FieldType.TIME: (10, _flatten(_Table(_TIMESTAMP, (3,)))),  # no time zone (contract 4.4)
}


def _key_values(pairs: tuple[tuple[str, str], ...]) -> list[_Object]:
    return [_Table(_KEY_VALUE, pair) for pair in pairs]


@functools.lru_cache(maxsize=1024)
def _field(
    name: str, field_type: FieldType, nullable: bool, metadata: tuple[tuple[str, str], ...]
) -> _Flat:
    """A Field table, flattened once per distinct field (queries repeat their fields' shapes)."""
    type_id, type_table = _TYPES[field_type]
    children: list[_Object] = []
    values = (name, nullable, type_id, type_table, children, _key_values(metadata))
    return _flatten(_Table(_FIELD, values))


def _message(header_type: int, header: _Object, body_length: int) -> bytes:
    """A Message, framed: continuation, size, the flatbuffer padded to 8 bytes (contract 4.1)."""
    flat = _finish(_Table(_MESSAGE, (_METADATA_V4, header_type, header, body_length)))
    return b"".join((_CONTINUATION, _INT32.pack(len(flat)), flat))


def _record_batch(
    length: int, columns: list[Column]
) -> tuple[_Table, list[bytes | memoryview], int]:
    """The RecordBatch table and its body: every buffer padded to 8 bytes."""
    nodes: list[int] = []  # struct FieldNode { length: long; null_count: long }
    buffers: list[int] = []  # struct Buffer { offset: long; length: long }
    body: list[bytes | memoryview] = []
    position = 0
    for column in columns:
        nodes += (column.length, column.null_count)
        parts = [column.validity if column.null_count else None, column.offsets, column.data]
        if column.offsets is None:
            del parts[1]  # only strings have offsets
        for part in parts:
            if part is None:
                buffers += (position, 0)
                continue
            view = memoryview(part).cast("B")
            size = view.nbytes
            buffers += (position, size)
            body.append(view)
            padding = -size % 8
            if padding:
                body.append(_PADDING[:padding])
            position += size + padding
    node_vector = _Structs(len(nodes) // 2, struct.pack(f"<{len(nodes)}q", *nodes))
    buffer_vector = _Structs(len(buffers) // 2, struct.pack(f"<{len(buffers)}q", *buffers))
    return _Table(_RECORD_BATCH, (length, node_vector, buffer_vector)), body, position


def encode_frame(frame: Frame) -> bytes:
    """Encode ``frame`` as one Arrow IPC file the way SDK v0.88.0 does (contract 4.1).

    Example::

        payload = encode_frame(Frame("x", [Field("v", [1.0])]))
        assert payload[:6] == b"ARROW1"
    """
    frame.validate()
    fields: list[_Object] = []
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
        fields.append(_field(item.name, item.type, item.nullable, tuple(metadata)))
        columns.append(column)
    frame_metadata = [("name", frame.name), ("refId", frame.ref_id)]  # contract 4.2
    if frame.meta is not None:
        frame_metadata.append(("meta", frame.meta.to_text()))
    schema = _flatten(_Table(_SCHEMA, (fields, _key_values(tuple(frame_metadata)))))
    schema_message = _message(_HEADER_SCHEMA, schema, 0)
    parts: list[bytes | memoryview] = [_MAGIC, b"\x00\x00", schema_message]
    blocks: list[int] = []  # struct Block { offset: long; metaDataLength: int; bodyLength: long }
    if columns:
        batch, body, body_length = _record_batch(frame.rows, columns)
        batch_message = _message(_HEADER_RECORD_BATCH, batch, body_length)
        blocks += (8 + len(schema_message), len(batch_message), body_length)
        parts.append(batch_message)
        parts.extend(body)
    block_vector = _Structs(len(blocks) // 3, struct.pack("<qi4xq" * (len(blocks) // 3), *blocks))
    footer = _finish(_Table(_FOOTER, (_METADATA_V4, schema, _Structs(0, b""), block_vector)))
    parts += [_END_OF_STREAM, footer, _INT32.pack(len(footer)), _MAGIC]
    return b"".join(parts)
