"""Durations, relative times and the effective interval, also for alert queries (2.4.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from plutono_plugin import Query, TimeRange
from plutono_plugin.timeutil import (
    effective_interval,
    format_duration,
    parse_duration,
    parse_time,
    round_interval,
)

HOUR_MS = 3_600_000


def query(span_ms: int, *, interval_ms: int = 0, points: int = 0) -> Query:
    return Query(
        "A",
        time_range=TimeRange.from_epoch_ms(1_600_000_000_000, 1_600_000_000_000 + span_ms),
        interval=timedelta(milliseconds=interval_ms),
        max_data_points=points,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100ms", timedelta(milliseconds=100)),
        ("30s", timedelta(seconds=30)),
        ("1m", timedelta(minutes=1)),
        ("6h", timedelta(hours=6)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5s", timedelta(milliseconds=1500)),
        (">10s", timedelta(seconds=10)),
        ("15", timedelta(seconds=15)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "1M", "-1s"])
def test_parse_duration_errors_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"cannot read duration .*e\.g\. '30s'"):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for text in ("1500ms", "30s", "5m", "6h", "1d", "2w"):
        assert format_duration(parse_duration(text)) == text


def test_parse_time_reads_relative_expressions() -> None:
    now = datetime(2024, 3, 31, 12, tzinfo=UTC)
    assert parse_time("now-6h", now=now) == int(now.timestamp() * 1000) - 6 * HOUR_MS
    assert parse_time("now-1M", now=now) == int(
        datetime(2024, 2, 29, 12, tzinfo=UTC).timestamp() * 1000
    )
    assert parse_time("1500") == 1500
    with pytest.raises(ValueError, match="cannot read time 'yesterday'"):
        parse_time("yesterday")


def test_effective_interval_of_a_panel_query_is_its_interval() -> None:
    assert effective_interval(query(HOUR_MS, interval_ms=15_000, points=100)) == timedelta(
        seconds=15
    )
    assert effective_interval(query(HOUR_MS, interval_ms=15_000), min_interval=">1m") == timedelta(
        minutes=1
    )


def test_effective_interval_of_an_alert_query_is_positive() -> None:
    alert = query(HOUR_MS)  # alerting: interval 0, maxDataPoints 0
    assert effective_interval(alert) == timedelta(seconds=2)  # 1h / 1500 = 2.4 s → 2 s
    assert effective_interval(query(HOUR_MS, points=60)) == timedelta(minutes=1)
    assert effective_interval(query(0)) == timedelta(milliseconds=1)  # empty range: still > 0
    assert effective_interval(alert, min_interval="10s") == timedelta(seconds=10)


def test_round_interval_picks_readable_steps() -> None:
    assert [round_interval(timedelta(seconds=s)) for s in (0.004, 2.4, 73, 400, 5000)] == [
        timedelta(milliseconds=1),
        timedelta(seconds=2),
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(hours=1),
    ]
