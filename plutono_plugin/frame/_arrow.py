"""The one module that imports pyarrow: Arrow data in, Arrow IPC bytes decoded (contract 4).

Frames are *written* without pyarrow (:mod:`._ipc`); pyarrow, an optional extra
(``plutono-plugin[arrow]``, also part of ``[pandas]`` and ``[polars]``), is needed for pandas,
polars and pyarrow input, :meth:`Frame.decode`, :meth:`Frame.to_arrow`/``to_pandas`` and the
reshape helpers. Importing this module without pyarrow raises a
:class:`~plutono_plugin.errors.ConfigurationError` naming the extra.

Input the decoders cannot read is converted losslessly when it enters a
:class:`~plutono_plugin.frame.Field` (large/view strings, dictionaries, other time units, time
zones, dates, float16) or refused with a :class:`FrameError` naming the reason. The pyarrow
writer :func:`encode_frame` is kept as the reference the tests and benchmarks compare the
project's own writer with (metadata V4, no compression, contract 4.1/4.7).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ConfigurationError, FrameError
from ._columns import Column
from .config import dump_json
from .types import FieldType

try:
    import pyarrow as pa
    import pyarrow.ipc as ipc
except ImportError:  # pragma: no cover - exercised in a subprocess (tests/frame/test_extras.py)
    raise ConfigurationError(
        "this needs pyarrow, which is not installed: install plutono-plugin[arrow] (pandas "
        "data: plutono-plugin[pandas], polars: plutono-plugin[polars]), or add pyarrow to "
        "the plugin's requirements.txt"
    ) from None

if TYPE_CHECKING:
    from .model import Frame

__all__ = (
    "FieldParts",
    "FrameParts",
    "array_of",
    "arrow_type",
    "column_of",
    "decode_parts",
    "encode_frame",
    "table_parts",
)

_ARROW_TYPES: dict[FieldType, pa.DataType] = {
    FieldType.INT8: pa.int8(),
    FieldType.INT16: pa.int16(),
    FieldType.INT32: pa.int32(),
    FieldType.INT64: pa.int64(),
    FieldType.UINT8: pa.uint8(),
    FieldType.UINT16: pa.uint16(),
    FieldType.UINT32: pa.uint32(),
    FieldType.UINT64: pa.uint64(),
    FieldType.FLOAT32: pa.float32(),
    FieldType.FLOAT64: pa.float64(),
    FieldType.STRING: pa.string(),
    FieldType.BOOL: pa.bool_(),
    FieldType.TIME: pa.timestamp("ns"),
}
_FIELD_TYPES = {arrow_type: field_type for field_type, arrow_type in _ARROW_TYPES.items()}


def arrow_type(field_type: FieldType) -> pa.DataType:
    """The Arrow type a field of ``field_type`` is written as (contract 4.4)."""
    return _ARROW_TYPES[field_type]


# contract 4.1/4.7: no compression (silent garbage in both decoders), metadata V4 like the SDK.
_WRITE_OPTIONS = ipc.IpcWriteOptions(metadata_version=ipc.MetadataVersion.V4, compression=None)


def _unsupported(arrow_type: pa.DataType) -> str:
    types = pa.types
    if types.is_decimal(arrow_type):
        return (
            f"{arrow_type} is not supported: Plutono's Go decoder rejects decimals and the browser "
            "drops the scale; convert to float64 or string"
        )
    if (
        types.is_binary(arrow_type)
        or types.is_large_binary(arrow_type)
        or types.is_fixed_size_binary(arrow_type)
    ):
        return f"binary data ({arrow_type}) is not supported; decode it to str first"
    if types.is_nested(arrow_type):
        return f"nested type {arrow_type} is not supported; flatten it into separate fields"
    if types.is_null(arrow_type):
        return "the column holds only nulls and has no type; pass type="
    return (
        f"Arrow type {arrow_type} is not supported (Plutono reads numbers, strings, bools, times)"
    )


def _normalize(name: str, array: pa.Array, wanted: FieldType | None) -> pa.Array:
    """Convert ``array`` losslessly to one of the 13 wire types, or raise FrameError."""
    types = pa.types
    arrow_type = array.type
    try:
        if types.is_dictionary(arrow_type):
            # contract 4.4: dictionaries panic in Go Arrow 2020 and are "other" in the browser.
            return _normalize(name, array.dictionary_decode(), wanted)
        if types.is_large_string(arrow_type) or types.is_string_view(arrow_type):
            array = array.cast(pa.string())  # contract 4.8: unknown to arrow-js 0.16, Go panics
        elif types.is_float16(arrow_type):
            array = array.cast(pa.float32())
        elif types.is_timestamp(arrow_type) or types.is_date(arrow_type):
            # contract 4.7: Go reads every unit as ns and ignores the zone; write UTC ns.
            array = array.cast(pa.timestamp("ns"))
        elif types.is_null(arrow_type) and wanted is not None:
            array = pa.nulls(len(array), _ARROW_TYPES[wanted])
        if array.type not in _FIELD_TYPES:
            raise FrameError(_unsupported(array.type), field=name)
        if wanted is not None and _FIELD_TYPES[array.type] is not wanted:
            array = array.cast(_ARROW_TYPES[wanted])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        if types.is_timestamp(arrow_type) or types.is_date(arrow_type):
            raise FrameError(
                "time values outside the int64 nanosecond range (1677..2262) cannot be "
                f"encoded: {exc}",
                field=name,
            ) from None
        raise FrameError(f"cannot convert {arrow_type} to {wanted}: {exc}", field=name) from None
    return array


def column(
    name: str, values: Any, kind: str, wanted: FieldType | None, nullable: bool | None
) -> tuple[pa.Array, FieldType, bool]:
    """Turn pandas/polars/pyarrow data into (wire Array, field type, nullable)."""
    try:
        if kind == "pandas":
            array = pa.Array.from_pandas(values)  # NaN/NaT/NA are pandas' nulls
        elif kind == "polars":
            array = values.to_arrow()
        elif isinstance(values, pa.Array | pa.ChunkedArray):
            array = values
        else:
            raise FrameError(f"unsupported values of type {type(values).__name__}", field=name)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise FrameError(f"cannot convert {kind} values: {exc}", field=name) from None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    array = _normalize(name, array, wanted)
    has_nulls = array.null_count > 0
    if nullable is False and has_nulls:
        raise FrameError(f"declared nullable=False but holds {array.null_count} nulls", field=name)
    return array, _FIELD_TYPES[array.type], has_nulls if nullable is None else bool(nullable)


def column_of(values: pa.Array, field_type: FieldType) -> Column:
    """The wire buffers of a normalised Array, shared with it through the buffer protocol."""
    if values.offset:  # a slice: bitmaps would start mid-byte, string offsets not at 0
        values = pa.concat_arrays([values])  # a copy whose offsets start at 0
    length, nulls = len(values), values.null_count
    validity, *buffers = values.buffers()
    bits = (length + 7) // 8
    valid = memoryview(validity)[:bits] if nulls and validity is not None else None
    if field_type is FieldType.STRING:
        offsets = memoryview(buffers[0] or bytes(4))[: 4 * (length + 1)]
        end = int.from_bytes(offsets[-4:], "little", signed=True)
        data = memoryview(buffers[1])[:end] if buffers[1] is not None else b""
        return Column(length, nulls, valid, offsets, data)
    if buffers[0] is None:
        return Column(length, nulls, valid, None, b"")
    size = bits if field_type is FieldType.BOOL else length * values.type.bit_width // 8
    return Column(length, nulls, valid, None, memoryview(buffers[0])[:size])


def array_of(column: Column, field_type: FieldType) -> pa.Array:
    """A pyarrow Array over ``column``'s buffers (no copy)."""
    validity = None if column.validity is None else pa.py_buffer(column.validity)
    buffers = [validity]
    if column.offsets is not None:
        buffers.append(pa.py_buffer(column.offsets))
    buffers.append(pa.py_buffer(column.data))
    arrow = _ARROW_TYPES[field_type]
    return pa.Array.from_buffers(arrow, column.length, buffers, null_count=column.null_count)


def _schema(frame: Frame) -> pa.Schema:
    frame.validate()
    fields = []
    for item in frame.fields:
        metadata = {"name": item.name}  # contract 4.3: always written
        if item.labels is not None:
            metadata["labels"] = dump_json(item.labels)
        if item.config is not None:
            metadata["config"] = dump_json(item.config.to_json())
        arrow_type = _ARROW_TYPES[item.type]
        fields.append(pa.field(item.name, arrow_type, nullable=item.nullable, metadata=metadata))
    metadata = {"name": frame.name, "refId": frame.ref_id}  # contract 4.2
    if frame.meta is not None:
        metadata["meta"] = frame.meta.to_text()
    return pa.schema(fields, metadata=metadata)


def _arrays(frame: Frame) -> list[pa.Array]:
    arrays = []
    for item in frame.fields:
        array = item.to_arrow()
        if not item.nullable and array.null_count:
            # Go ignores the null bitmap of a non-nullable column: nulls would read as values.
            raise FrameError("non-nullable field holds nulls", field=item.name, frame=frame.name)
        arrays.append(array)
    return arrays


def frame_to_table(frame: Frame) -> pa.Table:
    """The frame as a pyarrow Table with the wire schema and metadata."""
    schema = _schema(frame)
    return pa.Table.from_arrays(_arrays(frame), schema=schema)


def encode_frame(frame: Frame) -> bytes:
    """Encode ``frame`` with pyarrow's IPC writer: the reference for :mod:`._ipc` (contract 4.1)."""
    schema = _schema(frame)
    arrays = _arrays(frame)
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, schema, options=_WRITE_OPTIONS) as writer:
        if arrays:
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def _json_metadata(
    metadata: dict[bytes, bytes],
    key: bytes,
    what: str,
    *,
    field: str | None = None,
    frame: str | None = None,
) -> Any:
    raw = metadata.get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise FrameError(
            f"{what} metadata is not valid JSON: {exc}", field=field, frame=frame
        ) from None


class FieldParts(NamedTuple):
    """One column read from an Arrow schema, with its decoded Plutono metadata."""

    name: str
    column: Any
    nullable: bool | None
    labels: Any
    config: Any


class FrameParts(NamedTuple):
    """What :meth:`Frame.from_arrow <plutono_plugin.frame.model.Frame.from_arrow>` builds from."""

    name: str
    ref_id: str
    meta: Any
    fields: list[FieldParts]


def table_parts(
    table: pa.Table | pa.RecordBatch, name: str = "", ref_id: str = "", *, exact: bool = False
) -> FrameParts:
    """Read a Table's columns and Plutono's schema/field metadata, when present.

    With ``exact`` (decoding) every field keeps the schema's nullable flag; otherwise a field
    is nullable when it holds nulls, since pyarrow marks every field nullable by default.
    """
    schema = table.schema
    metadata = schema.metadata or {}
    name = name or metadata.get(b"name", b"").decode()
    ref_id = ref_id or metadata.get(b"refId", b"").decode()
    meta = _json_metadata(metadata, b"meta", "frame meta", frame=name)
    fields = []
    for index, arrow_field in enumerate(schema):
        field_metadata = arrow_field.metadata or {}
        where = {"field": arrow_field.name, "frame": name}
        fields.append(
            FieldParts(
                arrow_field.name,  # contract 4.3: readers use the Arrow name, not metadata
                table.column(index),
                arrow_field.nullable if exact or not arrow_field.nullable else None,
                _json_metadata(field_metadata, b"labels", "labels", **where),
                _json_metadata(field_metadata, b"config", "config", **where),
            )
        )
    return FrameParts(name, ref_id, meta, fields)


def decode_parts(data: bytes) -> FrameParts:
    """Read Arrow IPC bytes (file format, or stream format as a courtesy)."""
    buffer = pa.py_buffer(data)
    try:
        table = ipc.open_file(buffer).read_all()
    except pa.ArrowInvalid:
        try:
            table = ipc.open_stream(buffer).read_all()
        except pa.ArrowInvalid as exc:
            raise FrameError(f"not an Arrow IPC file or stream: {exc}") from None
    return table_parts(table, exact=True)
