"""The element types of a field (contract 4.4) and the time-series shapes of a frame."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ("INT_RANGES", "FieldType", "TimeSeriesType")

TimeSeriesType = Literal["not", "long", "wide"]
"""Result of :attr:`Frame.time_series_type`, as SDK v0.88.0 ``TimeSeriesSchema`` decides."""


class FieldType(StrEnum):
    """The element types a field can have (contract 4.4); each may be nullable or not."""

    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    UINT8 = "uint8"
    UINT16 = "uint16"
    UINT32 = "uint32"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"
    BOOL = "bool"
    TIME = "time"

    @property
    def is_integer(self) -> bool:
        """Whether this is one of the eight integer types."""
        return self in INT_RANGES

    @property
    def is_numeric(self) -> bool:
        """Whether alerting treats the field as a value (a number, not string/bool/time)."""
        return self.is_integer or self in (FieldType.FLOAT32, FieldType.FLOAT64)


INT_RANGES: dict[FieldType, tuple[int, int]] = {
    FieldType(f"{sign}int{bits}"): (
        (0, 2**bits - 1) if sign else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    )
    for sign in ("", "u")
    for bits in (8, 16, 32, 64)
}
"""The inclusive value range of each integer type."""
