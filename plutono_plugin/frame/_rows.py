"""Database rows → a frame: DB-API cursors, lists of dicts, lists of tuples (``Frame.from_rows``).

The counterpart of SDK ``sqlutil.FrameFromRows``: column names from the cursor's
``description`` (or the dicts' keys, or ``columns=``), one field per column, values converted so
both Plutono decoders read them (contract 4.4 has no decimal, date or binary type):

=====================  =========================================================================
database value         field value
=====================  =========================================================================
``None``               null (the field becomes nullable)
``decimal.Decimal``    float64 (``decimal="float"``, the default) or its exact text (``"string"``)
``datetime``           time (naive means UTC)
``date``               time at midnight UTC
``time``, ``timedelta``  text (``"12:30:00"``), as there is no time-of-day type
``bytes``              text (UTF-8, undecodable bytes replaced)
int, float, str, bool  themselves
=====================  =========================================================================

``time_columns`` names columns read as time: datetimes, ISO-8601 text, or numbers of epoch
**seconds** (what SQLite's ``strftime('%s')`` and ``unixepoch()`` give). ``converters`` maps a
column to a function applied to each non-null value first. A column without any value is a
nullable float64 (so an empty alert result is still numeric) unless ``types`` says otherwise.
``limit`` keeps the first rows and adds a warning notice saying so.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import islice
from typing import Any, Literal, NamedTuple

from ..errors import FrameError
from .field import Field
from .meta import FrameMeta, Notice
from .types import FieldType

__all__ = ("Converter", "DecimalMode", "RowOptions", "frame_from_rows")

DecimalMode = Literal["float", "string"]
"""How ``decimal.Decimal`` values are written: float64 (may round) or their exact text."""

Converter = Callable[[Any], Any]
"""A per-column function applied to every non-null value before the standard conversions."""

_PLAIN = (int, float, str, bool)


def _to_time(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, bool):
        raise FrameError(f"cannot read {value!r} as a time")
    if isinstance(value, int | float | decimal.Decimal):
        return int(decimal.Decimal(value) * 1_000_000_000)  # epoch seconds → ns, exactly
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            raise FrameError(f"cannot read {value!r} as an ISO-8601 time") from None
    raise FrameError(f"cannot read a {type(value).__name__} as a time")


def _standard(value: Any, decimals: DecimalMode) -> Any:
    if isinstance(value, (*_PLAIN, dt.datetime)):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value) if decimals == "string" else float(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, dt.time | dt.timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return value  # left to Field, which names the unsupported type


def _column(
    name: str,
    values: list[Any],
    *,
    converter: Converter | None,
    is_time: bool,
    decimals: DecimalMode,
    wanted: FieldType | str | None,
) -> Field:
    try:
        if converter is not None:
            values = [None if value is None else converter(value) for value in values]
        kinds = {type(value) for value in values}
        if is_time:
            values = [None if value is None else _to_time(value) for value in values]
            wanted = wanted or FieldType.TIME
        elif not kinds <= {*_PLAIN, type(None)}:  # only columns that need it pay for it
            values = [None if value is None else _standard(value, decimals) for value in values]
    except FrameError as error:
        raise FrameError(error.reason, field=name) from None
    except Exception as error:  # a user converter failed
        raise FrameError(f"converter failed: {type(error).__name__}: {error}", field=name) from None
    if wanted is None and all(value is None for value in values):
        wanted = FieldType.FLOAT64
    return Field(name, values, type=wanted)


def _columns_of(rows: Any, columns: Sequence[str] | None) -> tuple[list[str] | None, Iterable[Any]]:
    description = getattr(rows, "description", None)
    if columns is None and description is not None:  # a DB-API cursor
        columns = [str(item[0]) for item in description]
    return (None if columns is None else list(columns)), rows


class RowOptions(NamedTuple):
    """The options of ``Frame.from_rows`` (documented there)."""

    columns: Sequence[str] | None
    time_columns: Sequence[str]
    converters: Mapping[str, Converter]
    types: Mapping[str, FieldType | str]
    decimal: DecimalMode
    limit: int | None


def frame_from_rows(
    rows: Iterable[Any], name: str, options: RowOptions
) -> tuple[list[Field], FrameMeta | None]:
    """The fields (and the notice of a cut) of a frame of ``rows`` (see the module docs)."""
    columns, time_columns, converters, types, decimal, limit = options
    if decimal not in ("float", "string"):
        raise FrameError(f"decimal must be 'float' or 'string', got {decimal!r}", frame=name)
    if limit is not None and limit < 0:
        raise FrameError(f"limit must be >= 0, got {limit}", frame=name)
    names, source = _columns_of(rows, columns)
    taken = list(source if limit is None else islice(source, limit + 1))
    truncated = limit is not None and len(taken) > limit
    if truncated:
        taken = taken[:limit]
    if taken and isinstance(taken[0], Mapping):
        if names is None:
            names = list(dict.fromkeys(key for row in taken for key in row))
        table = [[row.get(column) for row in taken] for column in names]
    else:
        if names is None:
            raise FrameError(
                "rows are tuples without a cursor description: pass columns=[...]", frame=name
            )
        width = len(names)
        for number, row in enumerate(taken):
            if len(row) != width:
                raise FrameError(
                    f"row {number} has {len(row)} values but there are {width} columns",
                    frame=name,
                )
        table = [list(column) for column in zip(*taken, strict=True)] or [[] for _ in names]
    unknown = sorted({*time_columns, *converters, *types} - set(names))
    if unknown:
        raise FrameError(f"no such columns {unknown}; the columns are {names}", frame=name)
    fields = [
        _column(
            column,
            values,
            converter=converters.get(column),
            is_time=column in time_columns,
            decimals=decimal,
            wanted=types.get(column),
        )
        for column, values in zip(names, table, strict=True)
    ]
    meta = None
    if truncated:
        notice = Notice(
            f"Results have been limited to {limit} rows; narrow the time range or the query",
            severity="warning",
        )
        meta = FrameMeta(notices=[notice])
    return fields, meta
