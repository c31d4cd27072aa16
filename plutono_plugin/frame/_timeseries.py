"""Time-series shapes of a frame: SDK v0.88.0's classification, long → wide, alerting check.

SDK v0.88.0 ``Frame.TimeSeriesSchema`` calls a frame a time series when it has a time field
and at least one other non-string, non-bool field; it is *wide* without string/bool fields and
*long* with them. Plutono 7.5's alerting converts frames with ``FrameToSeriesSlice``: every value
field becomes one series, string "factor" fields are ignored (long frames are **not** split per
series), null values become NaN (contract 2.4.2). Plugins answering alert queries should
therefore return wide frames; :meth:`Frame.to_wide` converts, as the SDK's ``LongToWide`` does
(vectorised in :mod:`._reshape`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import FrameError
from .field import Field
from .types import FieldType, TimeSeriesType

if TYPE_CHECKING:
    from .model import Frame

__all__ = ("check_alerting", "time_series_type")

_FACTOR_TYPES = (FieldType.STRING, FieldType.BOOL)


def _time_index(fields: Sequence[Field]) -> int | None:
    for index, field in enumerate(fields):
        if field.type is FieldType.TIME:
            return index
    return None


def time_series_type(fields: Sequence[Field]) -> TimeSeriesType:
    """Classify a frame's fields the way SDK v0.88.0 ``TimeSeriesSchema()`` does."""
    time_index = _time_index(fields)
    if time_index is None:
        return "not"
    others = [field for index, field in enumerate(fields) if index != time_index]
    if not any(field.type not in _FACTOR_TYPES for field in others):
        return "not"
    return "long" if any(field.type in _FACTOR_TYPES for field in others) else "wide"


def check_alerting(frame: Frame) -> None:
    """Raise :class:`FrameError` unless Plutono 7.5 alerting reads ``frame`` as intended.

    Accepted: a wide time series without null times, or a frame with no fields or only a time
    field (alerting then reports "no data").
    """
    frame.validate()
    kind = time_series_type(frame.fields)
    only_time = len(frame.fields) == 1 and frame.fields[0].type is FieldType.TIME
    if kind == "not":
        if not frame.fields or only_time:
            return
        raise FrameError(
            "is not a time series: alerting needs a time field and at least one numeric field",
            frame=frame.name,
        )
    if kind == "long":
        factors = [field.name for field in frame.fields if field.type in _FACTOR_TYPES]
        raise FrameError(
            f"is a long time series (string/bool fields {factors}); alerting ignores those "
            "fields and merges the series: convert with Frame.to_wide()",
            frame=frame.name,
        )
    time_field = frame.fields[_time_index(frame.fields) or 0]
    if time_field.nullable and any(value is None for value in time_field.values):
        raise FrameError(
            "time field has nulls, which alerting reads as NaN timestamps",
            field=time_field.name,
            frame=frame.name,
        )
