"""Time helpers that also work for alerting: durations, relative times, the effective interval.

Alerting sends ``intervalMS = 0`` and ``maxDataPoints = 0`` (contract 2.4.2), so a plugin that
divides by them, or steps by them, fails or loops only when an alert fires.
:func:`effective_interval` always gives a positive step: the query's interval when the panel
sent one, otherwise the range split into ``max_data_points`` (or 1500, the resolution
Plutono's own server-side interval calculator uses) rounded to a readable step, never below a
minimum interval. :func:`parse_duration` reads ``30s``/``1h30m``/``>10s``; :func:`parse_time`
reads epoch milliseconds and ``now-6h``-style expressions (also used by the dev host).

Example::

    from plutono_plugin.timeutil import effective_interval, parse_duration

    step = effective_interval(query, min_interval="10s")  # a timedelta > 0, also for alerts
    parse_duration("1h30m")  # timedelta(hours=1, minutes=30)
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .query import Query

__all__ = (
    "DEFAULT_RESOLUTION",
    "TimeLike",
    "effective_interval",
    "format_duration",
    "parse_duration",
    "parse_time",
    "round_interval",
)

TimeLike = int | str | datetime
"""A point in time: epoch milliseconds, a ``datetime``, or a string (``"now-6h"``, epoch ms)."""

DEFAULT_RESOLUTION: Final = 1500
"""Data points assumed when a query has no ``maxDataPoints`` (alerting), as Plutono's
``pkg/tsdb/interval`` calculator does (``defaultRes``)."""

_UNITS: Final = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|[smhdw]))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|[smhdw])")
_RELATIVE = re.compile(r"now((?:[+-]\d+(?:ms|[smhdwMy]))*)")
_STEP = re.compile(r"([+-])(\d+)(ms|[smhdwMy])")


def parse_duration(text: str | timedelta) -> timedelta:
    """Read ``text``, a duration such as ``100ms``, ``30s``, ``5m``, ``6h``, ``1d`` or ``1h30m``.

    A ``timedelta`` is returned as it is. A leading ``>`` (Plutono's "at least" notation for a
    min interval) is ignored; a bare number means seconds. ``ValueError`` names what is wrong.

    Example::

        assert parse_duration("1m30s") == timedelta(seconds=90)
        assert parse_duration(">10s") == timedelta(seconds=10)
    """
    if isinstance(text, timedelta):
        return text
    if not isinstance(text, str):
        raise ValueError(f"a duration must be a string like '30s', got {text!r}")
    cleaned = text.strip().removeprefix(">").strip()
    try:
        if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
            return timedelta(seconds=float(cleaned))
        if not _DURATION.fullmatch(cleaned):
            raise ValueError(
                f"cannot read duration {_short(text)!r}: expected a number and a unit "
                "(ms s m h d w), e.g. '30s', '5m', '1h30m'"
            )
        return sum(
            (float(amount) * _UNITS[unit] for amount, unit in _PART.findall(cleaned)), timedelta()
        )
    except OverflowError:  # beyond timedelta's 999,999,999 days (or a float's range)
        raise ValueError(
            f"duration {_short(text)!r} is too long (at most 999999999 days)"
        ) from None


def _short(text: str, limit: int = 64) -> str:
    """``text`` cut for an error message (a hostile value may be megabytes long)."""
    return text if len(text) <= limit else f"{text[:limit]}…"


def format_duration(duration: timedelta) -> str:
    """The shortest ``parse_duration`` text for ``duration`` in one unit: ``90s``, ``5m``, ``1d``.

    Example::

        assert format_duration(timedelta(minutes=5)) == "5m"
        assert format_duration(timedelta(milliseconds=1500)) == "1500ms"
    """
    milliseconds = duration // timedelta(milliseconds=1)
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit] // timedelta(milliseconds=1)
        if milliseconds and milliseconds % size == 0:
            return f"{milliseconds // size}{unit}"
    return f"{milliseconds}ms"


# (upper bound, step): a raw interval up to the bound is shown as the step (Plutono's
# server-side interval calculator, roundInterval).
_ROUNDING: Final = [
    (timedelta(milliseconds=ms), timedelta(milliseconds=step))
    for ms, step in (
        (10, 1),
        (15, 10),
        (35, 20),
        (75, 50),
        (150, 100),
        (350, 200),
        (750, 500),
        (1_500, 1_000),
        (3_500, 2_000),
        (7_500, 5_000),
        (12_500, 10_000),
        (17_500, 15_000),
        (25_000, 20_000),
        (45_000, 30_000),
        (90_000, 60_000),
        (210_000, 120_000),
        (450_000, 300_000),
        (750_000, 600_000),
        (1_050_000, 900_000),
        (1_500_000, 1_200_000),
        (2_700_000, 1_800_000),
        (5_400_000, 3_600_000),
        (9_000_000, 7_200_000),
        (16_200_000, 10_800_000),
        (32_400_000, 21_600_000),
        (86_400_000, 43_200_000),
        (604_800_000, 86_400_000),
        (1_814_400_000, 604_800_000),
        (3_628_800_000, 2_592_000_000),
    )
]


def round_interval(interval: timedelta) -> timedelta:
    """Round a raw interval to a readable step (``1s``, ``2s``, ``5s``, ``10s``, ... ``1y``)."""
    for bound, step in _ROUNDING:
        if interval <= bound:
            return step
    return timedelta(days=365)


def effective_interval(
    query: Query,
    *,
    min_interval: str | timedelta = timedelta(milliseconds=1),
    resolution: int = DEFAULT_RESOLUTION,
) -> timedelta:
    """The step a query's data should have: positive even for alert queries.

    The query's own interval when it has one (the panel computed it), else the range divided
    by ``maxDataPoints`` (``resolution`` when that is 0, as for alerting) rounded with
    :func:`round_interval`; never below ``min_interval`` (e.g. the datasource's scrape
    interval, ``"10s"`` or ``">10s"``) nor 1 ms.

    Example::

        # alerting: interval 0, maxDataPoints 0, last hour → 1h / 1500 rounded = 2s
        assert effective_interval(alert_query) == timedelta(seconds=2)
    """
    floor = max(parse_duration(min_interval), timedelta(milliseconds=1))
    if query.interval > timedelta(0):
        return max(query.interval, floor)
    points = query.max_data_points if query.max_data_points > 0 else resolution
    if points <= 0:
        raise ValueError(f"resolution must be a positive number of points, got {resolution}")
    raw = max(query.time_range.duration, timedelta(0)) / points
    return max(round_interval(raw), floor)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def parse_time(value: TimeLike, *, now: datetime | None = None) -> int:
    """Epoch milliseconds of ``value``: an int (already ms), a ``datetime`` or a string.

    Strings are epoch milliseconds (what the frontend sends) or ``now`` followed by steps such
    as ``-6h``, ``+1d``, ``-2M`` (units ``ms s m h d w M y``). Plutono silently turns anything
    else into epoch 0 (contract 2.4.1); this says what is wrong instead.

    Example::

        assert parse_time("1500") == 1500
        assert parse_time("now-1h") == parse_time("now") - 3_600_000  # at the same instant
    """
    if isinstance(value, bool):
        raise ValueError(f"time must be epoch milliseconds, a datetime or a string, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"time {value.isoformat()} has no timezone; use an aware datetime")
        return int(value.timestamp() * 1000)
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    match = _RELATIVE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"cannot read time {value!r}: expected epoch milliseconds or 'now' with steps "
            "like 'now-6h' (units ms s m h d w M y)"
        )
    moment = now or datetime.now(UTC)
    try:
        for sign, amount, unit in _STEP.findall(match.group(1)):
            count = int(amount) * (-1 if sign == "-" else 1)
            if unit in _UNITS:
                moment += count * _UNITS[unit]
            else:
                moment = _add_months(moment, count * (12 if unit == "y" else 1))
    except (OverflowError, ValueError):
        raise ValueError(f"time {_short(value)!r} is outside the years 1 to 9999") from None
    return int(moment.timestamp() * 1000)
