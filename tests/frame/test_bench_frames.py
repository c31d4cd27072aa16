"""The 1M-row encode stays in pyarrow's order of time (figures: docs/benchmarks.md)."""

from __future__ import annotations

from tests.bench.frames import run


def test_million_row_encode_is_in_the_same_order_of_time_as_pyarrow() -> None:
    result = run(rows=1_000_000, runs=3)
    assert result["ours_bytes"] > 16_000_000  # both columns really went out
    # A loose bound (a regression detector, not a measurement): going through Python objects
    # would make this ~100x slower.
    assert result["ratio"] < 10, result
