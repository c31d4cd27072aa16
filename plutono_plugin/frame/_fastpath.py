"""Fast paths for building a field from Python values that need no conversion.

:class:`~plutono_plugin.frame.Field` checks and converts Python values one by one; for a column
whose items all have the plain type already (``float`` for float64, timezone-aware ``datetime``
or int nanoseconds for time, ``int`` for int64, ``str`` for string; no nulls) that work is done
here in bulk, with the same result. Per-value checks were the largest framework share of a small
query's profile (docs/benchmarks.md). Anything unusual returns ``None`` and takes the general
path, which also produces the error messages.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .._time import EPOCH

__all__ = ("fast_type", "fast_values")

_MICROSECOND = timedelta(microseconds=1)
_INT64 = (-(2**63), 2**63 - 1)


_PLAIN_TYPES: dict[type, str] = {float: "float64", str: "string", bool: "bool", datetime: "time"}


def fast_type(items: list[Any]) -> str | None:
    """The field type when every item has the same plain type (float, str, bool, datetime).

    ``None`` (empty, nulls, ints, mixed or other types) leaves inference to the general path.
    """
    if not items:
        return None
    kind = type(items[0])
    name = _PLAIN_TYPES.get(kind)
    return name if name is not None and _all_of(kind, items) else None


def _all_of(kind: type, items: list[Any]) -> bool:
    """Every item's type is exactly ``kind`` (``map``/``set`` run in C: no per-item bytecode)."""
    return set(map(type, items)) == {kind}


def fast_values(field_type: str, items: list[Any]) -> list[Any] | None:
    """``items`` coerced for ``field_type`` (a FieldType value), or ``None`` to take the slow path.

    Example::

        fast_values("float64", [1.0, 2.5])  # -> [1.0, 2.5]
        fast_values("float64", [1, None])  # -> None (ints and nulls need the general path)
    """
    if not items:
        return None
    if field_type == "float64":
        return items if _all_of(float, items) else None
    if field_type == "string":
        return items if _all_of(str, items) else None
    if field_type == "time":
        if _all_of(int, items):
            values = items  # epoch nanoseconds already
        elif _all_of(datetime, items) and all(v.tzinfo is not None for v in items):
            values = [(v - EPOCH) // _MICROSECOND * 1_000 for v in items]
        else:
            return None
    elif field_type == "int64":
        if not _all_of(int, items):
            return None
        values = items
    else:
        return None
    return values if _INT64[0] <= min(values) and max(values) <= _INT64[1] else None
