"""Macro expansion in query text: time filter, interval, time group, and errors naming the macro."""

from __future__ import annotations

from datetime import timedelta

import pytest

from plutono_plugin import Query, QueryError, TimeRange
from plutono_plugin.macros import MacroContext, expand_macros, iso_literal

FROM_MS = 1_600_000_000_000


def query(span_ms: int = 3_600_000, *, interval_ms: int = 0, points: int = 0) -> Query:
    return Query(
        "B",
        time_range=TimeRange.from_epoch_ms(FROM_MS, FROM_MS + span_ms),
        interval=timedelta(milliseconds=interval_ms),
        max_data_points=points,
    )


def test_time_macros_expand_to_epoch_seconds_by_default() -> None:
    text = "WHERE $__timeFilter(ts) AND ts >= $__timeFrom() AND ts < $__timeTo"
    assert expand_macros(text, query()) == (
        "WHERE ts BETWEEN 1600000000 AND 1600003600 AND ts >= 1600000000 AND ts < 1600003600"
    )
    half = Query("A", time_range=TimeRange.from_epoch_ms(FROM_MS + 500, FROM_MS + 1500))
    assert expand_macros("$__timeFrom", half) == "1600000000.5"


def test_iso_literal_for_timestamp_columns() -> None:
    assert expand_macros("$__timeFilter(t)", query(), time_literal=iso_literal) == (
        "t BETWEEN '2020-09-13T12:26:40Z' AND '2020-09-13T13:26:40Z'"
    )


def test_interval_macros_use_the_effective_interval_also_for_alerts() -> None:
    panel = query(interval_ms=30_000, points=120)
    assert expand_macros("$__interval $__interval_ms", panel) == "30s 30000"
    alert = query()  # intervalMS 0, maxDataPoints 0
    assert expand_macros("$__interval $__interval_ms", alert) == "2s 2000"
    assert expand_macros("$__interval", alert, min_interval="1m") == "1m"


def test_time_group_rounds_down_to_the_interval() -> None:
    assert expand_macros("$__timeGroup(ts, 5m)", query()) == "(ts - ts % 300)"
    assert expand_macros("$__timeGroup(ts, '1h')", query()) == "(ts - ts % 3600)"
    panel = query(interval_ms=60_000)
    assert expand_macros("SELECT $__timeGroup(ts, $__interval) AS t", panel) == (
        "SELECT (ts - ts % 60) AS t"
    )


def test_custom_macros_and_nested_parentheses() -> None:
    def table(context: MacroContext, arguments: list[str]) -> str:
        return f"metrics_{context.query.ref_id.lower()}"

    text = "SELECT max(cpu) FROM $__table WHERE $__timeFilter(coalesce(ts, 0))"
    assert expand_macros(text, query(), macros={"table": table}) == (
        "SELECT max(cpu) FROM metrics_b WHERE coalesce(ts, 0) BETWEEN 1600000000 AND 1600003600"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$__timeFiltr(ts)", r"unknown macro \$__timeFiltr \(known: .*\$__timeFilter"),
        ("$__timeFilter()", r"\$__timeFilter needs 1 argument \(a time column\), got 0"),
        ("$__timeFilter(a, b)", r"needs 1 argument .* got 2"),
        ("$__timeFilter(ts", r"\$__timeFilter\( is not closed"),
        ("$__timeGroup(ts)", r"\$__timeGroup needs 2 arguments"),
        ("$__timeGroup(ts, often)", r"cannot read duration 'often'"),
        ("$__timeGroup(ts, 0s)", r"positive interval"),
        ("$__interval(1)", r"\$__interval needs no arguments"),
    ],
)
def test_bad_macros_are_query_errors_naming_the_macro(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message) as caught:
        expand_macros(text, query())
    assert caught.value.ref_id == "B"


def test_text_without_macros_is_unchanged() -> None:
    text = "SELECT '$' || name, price FROM t WHERE note LIKE '%__%'"
    assert expand_macros(text, query()) == text
