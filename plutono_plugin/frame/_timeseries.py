"""Time-series shapes of a frame: SDK v0.88.0's classification, long → wide, alerting check.

SDK v0.88.0 ``Frame.TimeSeriesSchema`` calls a frame a time series when it has a time field
and at least one other non-string, non-bool field; it is *wide* without string/bool fields and
*long* with them. Plutono 7.5's alerting converts frames with ``FrameToSeriesSlice``: every value
field becomes one series, string "factor" fields are ignored (long frames are **not** split per
series), null values become NaN (contract 2.4.2). Plugins answering alert queries should
therefore return wide frames; :func:`long_to_wide` converts, as the SDK's ``LongToWide`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import FrameError
from .field import Field
from .types import FieldType, TimeSeriesType

if TYPE_CHECKING:
    from .model import Frame

__all__ = ("check_alerting", "long_to_wide", "time_series_type")

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


def long_to_wide(frame: Frame) -> list[Field]:
    """The fields of a long time series made wide, like SDK v0.88.0 ``data.LongToWide``.

    Each string or bool field becomes a label (its name the key, its value the label value;
    null is ``""``, bools are ``"true"``/``"false"``). Each combination of a value field and a
    set of labels becomes one field, named after the value field, with the value field's
    config. Rows are grouped by time; cells with no value are null. Unlike the SDK, unsorted
    input is sorted by time instead of refused.

    Example::

        long = Frame("", [Field("time", [t0, t0, t1, t1]), Field("host", ["a", "b", "a", "b"]),
                          Field("cpu", [1.0, 2.0, 3.0, 4.0])])
        wide = long.to_wide()  # fields: time, cpu {host=a}, cpu {host=b}
    """
    kind = time_series_type(frame.fields)
    if kind != "long":
        raise FrameError(f"expected a long time series, got a {kind!r} one", frame=frame.name)
    frame.validate()
    if frame.rows == 0:
        raise FrameError("a long time series without rows cannot be converted", frame=frame.name)
    time_index = _time_index(frame.fields)
    assert time_index is not None  # a long frame has a time field
    time_field = frame.fields[time_index]
    factors = [field for field in frame.fields if field.type in _FACTOR_TYPES]
    keys = [field.name for field in factors]
    if len(set(keys)) != len(keys):
        raise FrameError(
            f"string/bool field names repeat {keys}; labels need unique keys", frame=frame.name
        )
    value_fields = [
        field
        for index, field in enumerate(frame.fields)
        if index != time_index and field.type not in _FACTOR_TYPES
    ]
    times = time_field.values
    if any(value is None for value in times):
        raise FrameError("time field has nulls", field=time_field.name, frame=frame.name)
    factor_values = [[_label_value(value) for value in field.values] for field in factors]
    order = sorted(range(frame.rows), key=times.__getitem__)
    row_of_time: dict[int, int] = {}
    cells: dict[tuple[int, tuple[str, ...]], dict[int, Any]] = {}
    for row in order:
        wide_row = row_of_time.setdefault(times[row], len(row_of_time))
        labels = tuple(values[row] for values in factor_values)
        for number, field in enumerate(value_fields):
            cells.setdefault((number, labels), {})[wide_row] = field.values[row]
    series = sorted(cells, key=lambda key: (value_fields[key[0]].name, key[1]))
    wide_fields = [
        Field(time_field.name, list(row_of_time), type=FieldType.TIME, config=time_field.config)
    ]
    for number, labels in series:
        source = value_fields[number]
        column = cells[number, labels]
        values = [column.get(row) for row in range(len(row_of_time))]
        wide_fields.append(
            Field(
                source.name,
                values,
                type=source.type,
                nullable=source.nullable or any(value is None for value in values),
                labels=dict(zip(keys, labels, strict=True)),
                config=source.config,
            )
        )
    return wide_fields


def _label_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
