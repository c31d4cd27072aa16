"""The one module that imports pyarrow: frames to and from Arrow IPC bytes (contract 4.1-4.9).

Plutono 7.5 decodes frames with a June-2020 Go Arrow (alerting, expressions) and
apache-arrow 0.16.0 in the browser. Both read less than pyarrow writes, and some mistakes are
silent, so the writer here is explicit: IPC *file* format (the Go reader needs the footer),
metadata V4, no compression (both decoders read compressed bodies as garbage), one record
batch, ``timestamp[ns]`` without timezone (Go ignores the unit), ``utf8`` strings and the
nullable flags as declared. Input the decoders cannot read is converted losslessly when it
enters a :class:`~plutono_plugin.frame.Field` (large/view strings, dictionaries, other time
units, time zones, dates, float16) or refused with a :class:`FrameError` naming the reason.
"""

from __future__ import annotations

import array
import itertools
import json
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa
import pyarrow.ipc as ipc

from ..errors import FrameError
from .config import dump_json
from .types import FieldType

if TYPE_CHECKING:
    from .model import Frame

__all__ = (
    "FieldParts",
    "FrameParts",
    "arrow_type",
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


_NS_PER_UNIT = {"W": 604_800 * 10**9, "D": 86_400 * 10**9, "h": 3_600 * 10**9, "m": 60 * 10**9}
_NS_PER_UNIT |= {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def datetime64_to_ns(value: Any) -> int:
    """Exact int nanoseconds of a ``numpy.datetime64`` scalar (numpy's casts overflow silently)."""
    import numpy

    unit, count = numpy.datetime_data(value.dtype)
    if unit in ("Y", "M"):  # calendar units have no fixed length: go through days
        return int(value.astype("datetime64[D]").astype("int64")) * _NS_PER_UNIT["D"]
    if unit not in _NS_PER_UNIT:
        raise FrameError(f"numpy.datetime64 with unit {unit!r} cannot be stored as nanoseconds")
    return int(value.astype("int64")) * count * _NS_PER_UNIT[unit]


def _from_numpy(name: str, values: Any) -> pa.Array:
    import numpy

    if values.ndim != 1:
        raise FrameError(
            f"a numpy array for a field must be 1-dimensional, got shape {values.shape}", field=name
        )
    masked = isinstance(values, numpy.ma.MaskedArray)
    data = values.data if masked else values
    mask = numpy.ma.getmaskarray(values) if masked else None
    dtype = data.dtype
    unit = numpy.datetime_data(dtype)[0] if dtype.kind == "M" else ""
    wrappable = dtype.kind in "iu" or (dtype.kind == "f" and dtype.itemsize in (4, 8))
    try:
        if dtype.isnative and (wrappable or unit in ("s", "ms", "us", "ns")):
            # Wrap the memory as it is (no copy, and no pa.array: see array_from_python).
            if unit:
                mask = numpy.isnat(data) if mask is None else mask | numpy.isnat(data)
                arrow_type = pa.timestamp(unit)
                data = data.view("int64")
            else:
                arrow_type = pa.from_numpy_dtype(dtype)
            data = numpy.ascontiguousarray(data)
            validity, nulls = None, 0
            if mask is not None and (nulls := int(mask.sum())):
                validity = pa.py_buffer(numpy.packbits(~mask, bitorder="little"))
            buffers = [validity, pa.py_buffer(data)]
            return pa.Array.from_buffers(arrow_type, len(data), buffers, null_count=nulls)
        if masked:
            return pa.array(values.data, mask=mask)
        return pa.array(values)  # bool, float16, strings, objects: pyarrow converts
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError) as exc:
        raise FrameError(
            f"numpy dtype {values.dtype} is not supported: {exc}", field=name
        ) from None


def column(
    name: str, values: Any, kind: str, wanted: FieldType | None, nullable: bool | None
) -> tuple[pa.Array, FieldType, bool]:
    """Turn numpy/pandas/polars/pyarrow data into (wire Array, field type, nullable)."""
    try:
        if kind == "numpy":
            array = _from_numpy(name, values)
        elif kind == "pandas":
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


def python_values(array: pa.Array, field_type: FieldType) -> list[Any]:
    """Values as Python objects; times as int nanoseconds (a datetime would lose precision)."""
    if field_type is FieldType.TIME:
        return array.cast(pa.int64()).to_pylist()  # type: ignore[no-any-return]
    return array.to_pylist()  # type: ignore[no-any-return]


# stdlib ``array`` type codes of the fixed-width wire types (TIME: int64 nanoseconds).
_TYPECODES = {
    FieldType.INT8: "b",
    FieldType.INT16: "h",
    FieldType.INT32: "i",
    FieldType.INT64: "q",
    FieldType.UINT8: "B",
    FieldType.UINT16: "H",
    FieldType.UINT32: "I",
    FieldType.UINT64: "Q",
    FieldType.FLOAT32: "f",
    FieldType.FLOAT64: "d",
    FieldType.TIME: "q",
}
_FILLERS: dict[FieldType, object] = {FieldType.STRING: "", FieldType.BOOL: False}
_INT32_MAX = 2**31 - 1


def _bitmap(flags: list[bool]) -> bytes:
    """Arrow's LSB-first bitmap of ``flags``."""
    packed = bytearray((len(flags) + 7) // 8)
    for index, flag in enumerate(flags):
        if flag:
            packed[index >> 3] |= 1 << (index & 7)
    return bytes(packed)


def array_from_python(name: str, values: list[Any], field_type: FieldType) -> pa.Array:
    """Build the wire Array from already validated Python values.

    The buffers are laid out here (stdlib ``array`` does the numeric conversion in C) rather
    than by ``pa.array``: pyarrow imports pandas, when installed, on its first ``pa.array``
    call, which costs a plugin tens of MiB and a slow first query.
    """
    length = len(values)
    nulls = sum(1 for value in values if value is None)
    validity = None
    if nulls:
        validity = pa.py_buffer(_bitmap([value is not None for value in values]))
        filler = _FILLERS.get(field_type, 0)
        values = [filler if value is None else value for value in values]
    arrow_type = _ARROW_TYPES[field_type]
    try:
        if field_type is FieldType.STRING:
            encoded = [value.encode("utf-8") for value in values]
            offsets = array.array("i", itertools.accumulate(map(len, encoded), initial=0))
            buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
        elif field_type is FieldType.BOOL:
            buffers = [validity, pa.py_buffer(_bitmap(values))]
        else:
            buffers = [validity, pa.py_buffer(array.array(_TYPECODES[field_type], values))]
    except OverflowError as exc:
        # utf8 offsets are int32 (contract 4.4: never large_string); ints are range-checked before.
        raise FrameError(f"cannot build a {field_type} column: {exc}", field=name) from None
    return pa.Array.from_buffers(arrow_type, length, buffers, null_count=nulls)


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
    """Encode ``frame`` as one Arrow IPC file the way SDK v0.88.0 does (contract 4.1).

    Example::

        payload = encode_frame(Frame("x", [Field("v", [1.0])]))
        assert payload[:6] == b"ARROW1"
    """
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
