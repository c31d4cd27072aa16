"""7b: does a call the host gives up on still leak? RSS per call after the heap settled.

Issue #17 item 18: RSS growth over 10k cancelled calls after a fixed 2k-call warm-up read +24 to
+32 % on one machine and 0.16 % on another, so warm-up and leak could not be told apart. Here:

1. one ``ours`` process takes rounds of ``settle_calls`` cancelled calls until a round adds less
   than ``settle_pct`` % to its RSS (at most ``settle_rounds``): the heap, the allocator's arenas
   and h2's windows have settled;
2. then ``settled_calls`` (≥ 50k in ``make bench``) more in ``settled_chunks`` chunks; growth is
   reported in % and in bytes per call, with the RSS after each chunk (a leak climbs steadily,
   a late warm-up flattens). Every reading waits until the plugin is idle
   (:func:`~tests.bench.runner.wait_idle`): on a busy machine it drains a backlog of calls the
   host already gave up on for tens of seconds, and memory read earlier measures that backlog;
3. a second process runs ``trace_calls`` of them with ``PLUTONO_PLUGIN_TRACEMALLOC`` set
   (``plutono_plugin/_runtime/memtrace.py``): snapshots after settling, halfway and at the end;
   an allocation site that grew in both halves is a *growing site*. The top sites by growth, with
   the innermost frame inside ``plutono_plugin`` named, go to ``benchmarks.json`` (extras).

All of it runs twice: on the machine as it is, and busy, with two ``yes > /dev/null`` beside it
(issue #17 asks for both).

Example::

    settled_giveups(bench)  # samples rss_settled_* (quiet, busy); extras["settled_giveups"]
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.bench.runner import Bench, _started, rss_mb, wait_idle
from tests.interop.gohost import GoHost, Query

SLOW: list[Query] = [{"ref_id": "A", "query_type": "slow", "json": {"durationMs": 40}}]
LOAD: dict[str, object] = {
    "concurrency": 16,
    "cancel_after_ms": 5,
    "deadline_ms": 5,
    "resource_path": "stream",
}
MIXES = ("cancel", "deadline")
"""Cancelled by the host after 5 ms (a tab closing), and expired after a 5 ms deadline."""
STATES = ("quiet", "busy")
"""The machine as it is, and with CPU-bound processes beside the plugin (``_machine``)."""
GROWING_BYTES = 64 * 1024
"""A site must add at least this much in each half to count as growing (≈ 2.6 B/call at 50k)."""
MIB = 1024 * 1024


def _calls(host: GoHost, mix: str, count: int) -> None:
    args = {"queries": SLOW, "count": count, "mix": [mix], **LOAD}
    reply = host.command("bench_query", args, timeout=1800)
    if not reply.get("ok") or reply.get("failures"):
        raise RuntimeError(f"{mix} calls failed: {reply}")


def _settle(bench: Bench, host: GoHost, pid: int, mix: str) -> tuple[int, list[float]]:
    """Rounds until two in a row add less than ``settle_pct`` % each: (calls, RSS curve)."""
    config = bench.config
    curve = [rss_mb(pid)]
    quiet = 0
    for _ in range(config.settle_rounds):
        _calls(host, mix, config.settle_calls)
        wait_idle(pid)
        curve.append(rss_mb(pid))
        quiet = quiet + 1 if curve[-1] < curve[-2] * (1 + config.settle_pct / 100) else 0
        if quiet == 2:
            break
    return (len(curve) - 1) * config.settle_calls, curve


def _snapshot(pid: int, path: Path) -> tracemalloc.Snapshot:
    wait_idle(pid)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 300
    while True:
        time.sleep(0.5)
        try:
            return tracemalloc.Snapshot.load(str(path))
        except (OSError, EOFError, ValueError, TypeError) as error:  # absent or half written
            if time.monotonic() > deadline:
                raise RuntimeError(f"no tracemalloc snapshot at {path}") from error


def _site(trace: tracemalloc.Traceback) -> tuple[str, str]:
    """(innermost frame, innermost frame inside plutono_plugin or "")."""
    frames = list(reversed(trace))  # a Traceback runs from the oldest frame to the newest
    inner = f"{frames[0].filename}:{frames[0].lineno}" if frames else "?"
    ours = next((f for f in frames if "plutono_plugin" in f.filename), None)
    where = ""
    if ours is not None:
        filename = ours.filename[ours.filename.rindex("plutono_plugin") :]
        where = f"{filename}:{ours.lineno}"
    return inner, where


def _growth(
    first: tracemalloc.Snapshot, middle: tracemalloc.Snapshot, last: tracemalloc.Snapshot
) -> dict[str, Any]:
    """Top sites by growth over both halves, and the sites that grew in each half."""
    halves = [middle.compare_to(first, "traceback"), last.compare_to(middle, "traceback")]
    late = {stat.traceback: stat.size_diff for stat in halves[1]}
    total = last.compare_to(first, "traceback")
    total.sort(key=lambda stat: stat.size_diff, reverse=True)
    top = []
    for stat in total[:10]:
        inner, ours = _site(stat.traceback)
        top.append(
            {"bytes": stat.size_diff, "blocks": stat.count_diff, "site": inner, "plugin": ours}
        )
    growing = [
        _site(stat.traceback)
        for stat in halves[0]
        if stat.size_diff >= GROWING_BYTES and late.get(stat.traceback, 0) >= GROWING_BYTES
    ]
    traced = sum(stat.size for stat in last.statistics("filename"))
    before = sum(stat.size for stat in first.statistics("filename"))
    return {
        "traced_growth_bytes": traced - before,
        "top": top,
        "growing_sites": [{"site": inner, "plugin": ours} for inner, ours in growing],
    }


def _rss_run(bench: Bench, mix: str, state: str) -> dict[str, Any]:
    config = bench.config
    chunk = max(1, config.settled_calls // config.settled_chunks)
    result: dict[str, Any] = {
        "load_average_before": round(os.getloadavg()[0], 2),
        # the load average lags by a minute: what the run had beside it is the burner count
        "burners": bench.config.busy_burners if state == "busy" else 0,
    }
    with _started(bench, "ours") as host:
        pid = host.restarts()["pid"]
        result["settle_calls"], settle_curve = _settle(bench, host, pid, mix)
        result["settle_rss_mb"] = [round(value, 2) for value in settle_curve]
        curve = [rss_mb(pid)]
        drained = []
        for _ in range(config.settled_chunks):
            _calls(host, mix, chunk)
            drained.append(round(wait_idle(pid), 1))
            curve.append(rss_mb(pid))
        result["drain_s"] = drained
    made = chunk * config.settled_chunks
    bench.add(f"rss_settled_growth_{mix}_pct", state, (curve[-1] / curve[0] - 1) * 100)
    bench.add(f"rss_settled_bytes_per_call_{mix}", state, (curve[-1] - curve[0]) * MIB / made)
    result["calls"], result["rss_mb"] = made, [round(value, 2) for value in curve]
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    return result


def _trace_run(bench: Bench, mix: str, calls: int) -> dict[str, Any]:
    prefix = bench.workdir / f"memtrace-{mix}"
    with _started(bench, "ours", {"PLUTONO_PLUGIN_TRACEMALLOC": str(prefix)}) as host:
        pid = host.restarts()["pid"]
        _settle(bench, host, pid, mix)
        first = _snapshot(pid, Path(f"{prefix}.1"))
        _calls(host, mix, calls // 2)
        middle = _snapshot(pid, Path(f"{prefix}.2"))
        _calls(host, mix, calls - calls // 2)
        last = _snapshot(pid, Path(f"{prefix}.3"))
    return _growth(first, middle, last)


@contextmanager
def _machine(state: str, burners: int) -> Iterator[None]:
    """``quiet``: the machine as it is; ``busy``: ``burners`` copies of ``yes > /dev/null`` too."""
    started = [
        subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
        for _ in range(burners if state == "busy" else 0)
    ]
    try:
        yield
    finally:
        for process in started:
            process.kill()
            process.wait()


def settled_giveups(bench: Bench) -> None:
    """7b: RSS growth per cancelled or expired call once settled; the tracemalloc diffs.

    Measured twice in one run: on the machine as it is (``quiet``) and with
    ``config.busy_burners`` CPU-bound processes beside it (``busy``, issue #17's busy machine).
    """
    found: dict[str, Any] = {}
    for state in STATES:
        with _machine(state, bench.config.busy_burners):
            for mix in MIXES:
                result = _rss_run(bench, mix, state)
                result["tracemalloc"] = _trace_run(bench, mix, bench.config.trace_calls)
                sites = len(result["tracemalloc"]["growing_sites"])
                bench.add(f"tracemalloc_growing_sites_{mix}", state, float(sites))
                found[f"{mix}, {state}"] = result
    bench.extras["settled_giveups"] = found
