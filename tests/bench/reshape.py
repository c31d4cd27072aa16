"""Long → wide benchmark: ``Frame.to_wide()`` against the old row loop and Go's ``LongToWide``.

A 200,000-row long frame (2,000 times by 100 hosts, a ``host`` and a ``region`` label, two
float64 values), decoded from Arrow as query data arrives, converted by the vectorised
``to_wide()``, by the row loop it replaced (``tests/frame/reference.py``) and by SDK v0.88.0
``data.LongToWide`` with ``FillModeNull`` (``tests/interop/goencode -longtowide``, on the same
Arrow file). Medians of several runs, in milliseconds.

Run: ``python -m tests.bench.reshape``
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plutono_plugin.frame import Field, Frame
from tests._tools import go_binary
from tests.frame.reference import row_loop_long_to_wide

ROWS = 200_000
HOSTS = 100
RUNS = 5


def long_frame(rows: int = ROWS, hosts: int = HOSTS) -> Frame:
    """The benchmark's long frame, Arrow-backed (decoded from its own encoding)."""
    times = rows // hosts
    rng = random.Random(12)
    frame = Frame(
        "long",
        [
            Field("time", [t * 10**9 for t in range(times) for _ in range(hosts)], type="time"),
            Field("host", [f"host-{h}" for _ in range(times) for h in range(hosts)]),
            Field("region", [f"region-{h % 4}" for _ in range(times) for h in range(hosts)]),
            Field("cpu", [rng.random() for _ in range(times * hosts)]),
            Field("mem", [rng.random() * 1e9 for _ in range(times * hosts)]),
        ],
    )
    return Frame.decode(frame.encode())


def _median_ms(function: Callable[[], object], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def run(rows: int = ROWS, runs: int = RUNS, *, loop_runs: int | None = None) -> dict[str, Any]:
    """Measure the three side by side; return medians (ms) and the ratios."""
    frame = long_frame(rows, min(HOSTS, max(rows // 10, 1)))
    wide = frame.to_wide()  # warm-up, and the result the others must match
    if row_loop_long_to_wide(frame) != wide.fields:
        raise RuntimeError("the vectorised and the row-loop conversions differ")
    ours = _median_ms(frame.to_wide, runs)
    loop = _median_ms(lambda: row_loop_long_to_wide(frame), loop_runs or max(runs // 2, 1))
    with tempfile.TemporaryDirectory(prefix="plutono-reshape-") as folder:
        path = Path(folder) / "long.arrow"
        path.write_bytes(frame.encode())
        out = subprocess.run(
            [str(go_binary("goencode")), f"-longtowide={path}", "-fill=null", f"-runs={runs}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    go = json.loads(out.stdout)
    if go["wide_fields"] != len(wide.fields):
        raise RuntimeError(f"Go made {go['wide_fields']} fields, we made {len(wide.fields)}")
    go_ms = float(go["long_to_wide"]["median_ms"])
    return {
        "benchmark": "long → wide",
        "rows": rows,
        "wide_fields": len(wide.fields),
        "ours_ms": round(ours, 2),
        "row_loop_ms": round(loop, 2),
        "go_ms": round(go_ms, 2),
        "speedup_vs_row_loop": round(loop / ours, 1),
        "ours_vs_go": round(ours / go_ms, 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
