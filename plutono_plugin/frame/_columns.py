"""Columns as Arrow lays them out in memory, without an Arrow library (contract 4.4).

A :class:`Column` is the buffers of one field exactly as an Arrow IPC body holds them: an
LSB-first validity bitmap (``None`` without nulls), int32 offsets for strings, and the data
(fixed-width little-endian values, a bitmap for bools, UTF-8 bytes for strings). Buffers are
anything with the buffer protocol, so a numpy array is wrapped without a copy (``memoryview``)
and Python lists go through the stdlib ``array`` module, which converts in C.

numpy is imported only by :func:`from_numpy` and :func:`datetime64_to_ns`, i.e. only when the
caller already handed over numpy data.
"""

from __future__ import annotations

import array
import itertools
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeAlias

from ..errors import FrameError
from .types import INT_RANGES, FieldType

__all__ = (
    "Column",
    "bitmap",
    "datetime64_to_ns",
    "from_numpy",
    "from_python",
    "to_python",
)

Buffer: TypeAlias = "bytes | bytearray | memoryview | array.array[Any]"


class Column(NamedTuple):
    """One field's Arrow buffers; ``validity`` is ``None`` when ``null_count`` is 0."""

    length: int
    null_count: int
    validity: Buffer | None
    offsets: Buffer | None  # int32, length + 1 of them, first 0 (strings only)
    data: Buffer


# stdlib ``array`` type codes of the fixed-width wire types (TIME: int64 nanoseconds).
TYPECODES = {
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
# Arrow buffers are little-endian; the stdlib array and numpy use the machine's order.
_LITTLE = sys.byteorder == "little"
# The eight flags of every byte, LSB first: bitmaps unpack with one lookup per byte.
_BITS = [tuple(bool(byte >> bit & 1) for bit in range(8)) for byte in range(256)]


def bitmap(flags: Sequence[object]) -> bytes:
    """Arrow's LSB-first bitmap of the truth of ``flags``."""
    packed = bytearray((len(flags) + 7) // 8)
    for index, flag in enumerate(flags):
        if flag:
            packed[index >> 3] |= 1 << (index & 7)
    return bytes(packed)


def _unpack(bits: Buffer, length: int) -> list[bool]:
    flags = itertools.chain.from_iterable(map(_BITS.__getitem__, memoryview(bits).cast("B")))
    return list(itertools.islice(flags, length))


def from_python(name: str, values: list[Any], field_type: FieldType) -> Column:
    """Lay out already validated Python values (``None`` is null) as Arrow buffers."""
    length = len(values)
    nulls = sum(1 for value in values if value is None)
    validity = None
    if nulls:
        validity = bitmap([value is not None for value in values])
        filler = _FILLERS.get(field_type, 0)
        values = [filler if value is None else value for value in values]
    try:
        if field_type is FieldType.STRING:
            encoded = [value.encode("utf-8") for value in values]
            offsets = array.array("i", itertools.accumulate(map(len, encoded), initial=0))
            if not _LITTLE:
                offsets.byteswap()
            return Column(length, nulls, validity, offsets, b"".join(encoded))
        if field_type is FieldType.BOOL:
            return Column(length, nulls, validity, None, bitmap(values))
        data = array.array(TYPECODES[field_type], values)
    except OverflowError as exc:
        # utf8 offsets are int32 (contract 4.4: never large_string); ints are range-checked before.
        raise FrameError(f"cannot build a {field_type} column: {exc}", field=name) from None
    if not _LITTLE:
        data.byteswap()
    return Column(length, nulls, validity, None, data)


def to_python(column: Column, field_type: FieldType) -> list[Any]:
    """The values of ``column`` as Python objects (``None`` for null, int nanoseconds for time)."""
    length = column.length
    if field_type is FieldType.BOOL:
        values: list[Any] = _unpack(column.data, length)
    elif field_type is FieldType.STRING:
        assert column.offsets is not None
        offsets = array.array("i")
        offsets.frombytes(column.offsets)
        if not _LITTLE:
            offsets.byteswap()
        data = bytes(column.data)
        values = [data[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(length)]
    else:
        fixed = array.array(TYPECODES[field_type])
        fixed.frombytes(column.data)
        if not _LITTLE:
            fixed.byteswap()
        values = fixed.tolist()[:length]
    if column.validity is not None and column.null_count:
        valid = _unpack(column.validity, length)
        values = [value if flag else None for value, flag in zip(values, valid, strict=True)]
    return values


_NS_PER_UNIT = {"W": 604_800 * 10**9, "D": 86_400 * 10**9, "h": 3_600 * 10**9, "m": 60 * 10**9}
_NS_PER_UNIT |= {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_INT64_MAX = 2**63 - 1


def datetime64_to_ns(value: Any) -> int:
    """Exact int nanoseconds of a ``numpy.datetime64`` scalar (numpy's casts overflow silently)."""
    import numpy

    unit, count = numpy.datetime_data(value.dtype)
    if unit in ("Y", "M"):  # calendar units have no fixed length: go through days
        return int(value.astype("datetime64[D]").astype("int64")) * _NS_PER_UNIT["D"]
    if unit not in _NS_PER_UNIT:
        raise FrameError(f"numpy.datetime64 with unit {unit!r} cannot be stored as nanoseconds")
    return int(value.astype("int64")) * count * _NS_PER_UNIT[unit]


_NUMPY_TYPES = {
    ("i", 1): FieldType.INT8,
    ("i", 2): FieldType.INT16,
    ("i", 4): FieldType.INT32,
    ("i", 8): FieldType.INT64,
    ("u", 1): FieldType.UINT8,
    ("u", 2): FieldType.UINT16,
    ("u", 4): FieldType.UINT32,
    ("u", 8): FieldType.UINT64,
    ("f", 4): FieldType.FLOAT32,
    ("f", 8): FieldType.FLOAT64,
}
_DTYPES = {field_type: f"<{code}" for field_type, code in TYPECODES.items()}


def from_numpy(
    name: str, values: Any, wanted: FieldType | None, nullable: bool | None
) -> tuple[Column, FieldType, bool] | None:
    """Wrap a 1-d numpy array (masked arrays give nulls, NaT is null) without copying.

    Returns ``None`` for text arrays, which take the Python path. Times of any unit become
    int64 nanoseconds (contract 4.7: Go ignores the unit), float16 becomes float32.
    """
    import numpy

    if values.ndim != 1:
        raise FrameError(
            f"a numpy array for a field must be 1-dimensional, got shape {values.shape}", field=name
        )
    if values.dtype.kind == "U":
        return None
    masked = isinstance(values, numpy.ma.MaskedArray)
    data = values.data if masked else values
    mask = numpy.ma.getmaskarray(values) if masked else None
    dtype = data.dtype
    if not dtype.isnative:
        data = data.astype(dtype.newbyteorder("="))
    kind = dtype.kind
    if kind == "M":
        data, nat = _times(name, data)
        mask = nat if mask is None else mask | nat
        field_type = FieldType.TIME
    elif kind == "b":
        field_type = FieldType.BOOL
    elif kind == "f" and dtype.itemsize == 2:
        data, field_type = data.astype(numpy.float32), FieldType.FLOAT32
    elif (kind, dtype.itemsize) in _NUMPY_TYPES:
        field_type = _NUMPY_TYPES[kind, dtype.itemsize]
    else:
        reason = (
            "binary data is not supported; decode it to str first"
            if kind == "S"
            else ("not supported (Plutono reads numbers, strings, bools, times)")
        )
        raise FrameError(f"numpy dtype {values.dtype} is {reason}", field=name)
    if wanted is not None and wanted is not field_type:
        data = _cast(name, data, mask, field_type, wanted)
        field_type = wanted
    nulls = 0 if mask is None else int(mask.sum())
    if nullable is False and nulls:
        raise FrameError(f"declared nullable=False but holds {nulls} nulls", field=name)
    validity = None
    if mask is not None and nulls:
        validity = _view(numpy.packbits(~mask, bitorder="little"))
    if field_type is FieldType.BOOL:
        buffer = _view(numpy.packbits(data, bitorder="little"))
    else:
        buffer = _view(numpy.ascontiguousarray(data, dtype=_DTYPES[field_type])).cast("B")
    column = Column(len(values), nulls, validity, None, buffer)
    return column, field_type, bool(nulls) if nullable is None else nullable


def _view(values: Any) -> memoryview:
    """A view of a numpy array's memory (numpy's stubs do not declare the buffer protocol)."""
    return memoryview(values)


def _times(name: str, data: Any) -> tuple[Any, Any]:
    """int64 nanoseconds of a datetime64 array, and its NaT mask."""
    import numpy

    unit, count = numpy.datetime_data(data.dtype)
    nat = numpy.isnat(data)
    if unit in ("Y", "M"):  # calendar units have no fixed length: go through days
        data, unit, count = data.astype("datetime64[D]"), "D", 1
    if unit not in _NS_PER_UNIT:
        raise FrameError(
            f"numpy datetime64 unit {unit!r} cannot be stored as nanoseconds", field=name
        )
    ticks = data.view(numpy.int64)
    factor = _NS_PER_UNIT[unit] * count
    if factor == 1:
        return ticks, nat
    ticks = numpy.where(nat, 0, ticks)
    limit = _INT64_MAX // factor
    if ticks.size and (ticks.max() > limit or ticks.min() < -limit):
        raise FrameError(
            "time values outside the int64 nanosecond range (1677..2262) cannot be encoded",
            field=name,
        )
    return ticks * factor, nat


def _cast(name: str, data: Any, mask: Any, have: FieldType, wanted: FieldType) -> Any:
    """Convert numbers between wire types when no value changes, else raise FrameError."""
    import numpy

    target = numpy.dtype(_DTYPES[wanted])
    numeric = have.is_numeric or have is FieldType.TIME
    if have is FieldType.BOOL or not (wanted.is_numeric or wanted is FieldType.TIME) or not numeric:
        raise FrameError(f"cannot convert {have} to {wanted}", field=name)
    valid = data if mask is None else data[~mask]
    if wanted.is_integer or wanted is FieldType.TIME:
        low, high = INT_RANGES[FieldType.INT64 if wanted is FieldType.TIME else wanted]
        if valid.size:
            with numpy.errstate(invalid="ignore"):
                integral = (
                    have.is_integer
                    or have is FieldType.TIME
                    or bool(
                        numpy.all(numpy.isfinite(valid)) and numpy.all(valid == numpy.trunc(valid))
                    )
                )
            smallest, largest = (
                int(valid.min()) if integral else 0,
                int(valid.max()) if integral else 0,
            )
            if not integral or smallest < low or largest > high:
                raise FrameError(
                    f"cannot convert {have} to {wanted}: values are not whole numbers in "
                    f"{low}..{high}",
                    field=name,
                )
        if mask is not None and mask.any():
            data = numpy.where(mask, 0, data)  # masked slots may hold anything
    with numpy.errstate(over="ignore", invalid="ignore"):
        return data.astype(target)
