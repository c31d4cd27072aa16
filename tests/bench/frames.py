"""Frame encoding benchmark: our ``Frame.encode`` against pyarrow's own IPC file write.

A 1,000,000-row wide frame (time + float64) built from numpy arrays, encoded both ways in
the same run; the median of several runs is reported, with the ratio ours / pyarrow.
Both sides start from the numpy arrays and end with ``bytes`` (what a QueryData answer needs).

Run: ``python -m tests.bench.frames``
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from plutono_plugin.frame import Field, Frame

ROWS = 1_000_000
RUNS = 7


def _data(rows: int) -> tuple[Any, Any]:
    start = np.datetime64("2024-01-01T00:00:00", "ns")
    times = start + np.arange(rows, dtype=np.int64) * np.timedelta64(1, "s")
    values = np.random.default_rng(7).random(rows)
    return times, values


def _ours(times: Any, values: Any) -> bytes:
    return Frame("bench", [Field("time", times), Field("value", values)]).encode()


def _pyarrow(times: Any, values: Any) -> bytes:
    table = pa.table({"time": pa.array(times), "value": pa.array(values)})
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def _median_seconds(function: Callable[[], bytes], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def run(rows: int = ROWS, runs: int = RUNS) -> dict[str, Any]:
    """Measure both encoders side by side; return medians in milliseconds and the ratio."""
    times, values = _data(rows)
    ours_size, theirs_size = len(_ours(times, values)), len(_pyarrow(times, values))  # warm up
    ours = _median_seconds(lambda: _ours(times, values), runs)
    theirs = _median_seconds(lambda: _pyarrow(times, values), runs)
    return {
        "benchmark": "frame encode, time + float64 from numpy",
        "rows": rows,
        "runs": runs,
        "ours_ms": round(ours * 1000, 2),
        "pyarrow_ms": round(theirs * 1000, 2),
        "ratio": round(ours / theirs, 2),
        "ours_bytes": ours_size,
        "pyarrow_bytes": theirs_size,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
