"""Benchmark-only plugin: query type ``bench_frame`` answers one wide frame of ``rows`` rows.

``time`` (one second apart from the range's start) and ``value`` (float64), both built from
numpy, the way a plugin author with columnar data would; the Go reference plugin answers the
same query type from Go slices (``tests/interop/goref``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plutono_plugin import Field, Frame, Plugin, Query

plugin = Plugin()


@dataclass
class FrameQuery:
    """The query JSON: how many rows to answer."""

    rows: int = 0


@plugin.query("bench_frame")
async def bench_frame(query: Query, model: FrameQuery) -> Frame:
    """One wide frame of ``model.rows`` rows."""
    start = np.datetime64(query.time_range.from_ms, "ms").astype("datetime64[ns]")
    times = start + np.arange(model.rows, dtype=np.int64) * np.timedelta64(1, "s")
    values = np.arange(model.rows, dtype=np.float64) * 0.5
    return Frame(query.ref_id, [Field("time", times), Field("value", values)])
