"""Turn the samples of one run into ``docs/benchmarks.json`` and ``docs/benchmarks.md``.

Per metric and plugin: median, min and max of the repetitions, the unit, and the ratios
(``ours/ceiling``, ``ours/go``, ...) of medians. The Markdown adds the goals of issue #5 with
whether this run reached them, and the hand-written profile notes (``tests/bench/notes.md``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.runner import Bench

DASH, TIMES, ARROW = "\u2013", "\u00d7", "\u2192"  # en dash, multiplication sign, arrow
NOTES = Path(__file__).resolve().parent / "notes.md"


@dataclass(frozen=True)
class Metric:
    """How one metric is named, measured and compared."""

    key: str
    title: str
    unit: str
    ratios: tuple[tuple[str, str], ...]
    """(numerator, denominator) pairs of plugins."""


def metrics_for(concurrency: Sequence[int]) -> list[Metric]:
    """Every metric of a run, in report order."""
    found: list[Metric] = []
    for level in concurrency:
        pairs = (("ours", "ceiling"), ("ours", "go"))
        found.append(Metric(f"qps_c{level}", f"QueryData/s, {level} in flight", "calls/s", pairs))
        found.append(Metric(f"p50_c{level}", f"p50 latency, {level} in flight", "ms", pairs))
        found.append(Metric(f"p99_c{level}", f"p99 latency, {level} in flight", "ms", pairs))
    found += [
        Metric("slow_request_ms", "slow queries in one request", "ms", (("go", "ours"),)),
        Metric("encode_ms", "large frame encode", "ms", (("ours", "go"), ("ours", "pyarrow"))),
        Metric("encode_marshal_only_ms", "Go MarshalArrow alone (no NewFrame)", "ms", ()),
        Metric("frame_call_ms", "large frame QueryData end to end", "ms", (("ours", "go"),)),
        Metric(
            "long_to_wide_ms",
            "long → wide (Frame.to_wide vs LongToWide)",
            "ms",
            (("row_loop", "ours"), ("ours", "go")),
        ),
        Metric("cold_start_ms", "cold start: exec → connected client", "ms", (("ours", "go"),)),
        Metric(
            "cold_start_shipped_ms",
            "cold start, shipped copy (env -i, system python3)",
            "ms",
            (("ours", "go"),),
        ),
        Metric(
            "cold_start_standalone_ms", "cold start, --standalone bundle", "ms", (("ours", "go"),)
        ),
        Metric(
            "cold_start_floor_ms",
            "shipped paths: exec → ready, importing only",
            "ms",
            (("libraries", "interpreter"), ("framework", "libraries")),
        ),
        Metric("shutdown_ms", "Shutdown RPC → process exit (idle)", "ms", (("ours", "go"),)),
        Metric("rss_idle_mb", "RSS idle after start", "MiB", (("ours", "go"),)),
        Metric("rss_after_calls_mb", "RSS after the calls", "MiB", (("ours", "go"),)),
        Metric("rss_growth_cancel_pct", "RSS growth over cancelled calls", "%", ()),
        Metric("rss_growth_deadline_pct", "RSS growth over deadline-expired calls", "%", ()),
        Metric("rss_growth_mixed_pct", "RSS growth over mixed calls", "%", ()),
        Metric("oversized_peak_mb", "peak RSS added by an oversized request", "MiB", ()),
        Metric("zip_linux_amd64_mb", "quickstart linux_amd64 zip", "MiB", (("ours", "go"),)),
        Metric("directory_all_mb", "all-platform plugin directory", "MiB", (("ours", "go"),)),
        Metric("package_all_s", "build + package, all platforms, warm cache", "s", ()),
        Metric("new_to_query_s", f"`new` {ARROW} build {ARROW} first query answered", "s", ()),
        Metric(
            "cold_start_pandas_ms",
            "cold start, shipped copy: pandas plugin beside the quickstart",
            "ms",
            (("pandas", "quickstart"),),
        ),
        *(
            metric
            for mix, calls in (("cancel", "cancelled"), ("deadline", "deadline-expired"))
            for metric in (
                Metric(f"rss_settled_growth_{mix}_pct", f"settled: RSS growth, {calls}", "%", ()),
                Metric(
                    f"rss_settled_bytes_per_call_{mix}", f"settled: RSS per call, {calls}", "B", ()
                ),
                Metric(
                    f"tracemalloc_growing_sites_{mix}",
                    f"settled: growing allocation sites, {calls}",
                    "sites",
                    (),
                ),
            )
        ),
    ]
    return found


def _summary(values: Sequence[float]) -> dict[str, Any]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
        "samples": list(values),
    }


def _tool_version(command: Sequence[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def build_json(bench: Bench, command: str) -> dict[str, Any]:
    """The ``docs/benchmarks.json`` object."""
    metrics: dict[str, Any] = {}
    for metric in metrics_for(bench.config.concurrency):
        per_plugin = bench.samples.get(metric.key)
        if not per_plugin:
            continue
        entry: dict[str, Any] = {"title": metric.title, "unit": metric.unit}
        entry.update({who: _summary(values) for who, values in per_plugin.items()})
        entry["ratios"] = {
            f"{top}/{bottom}": round(entry[top]["median"] / entry[bottom]["median"], 3)
            for top, bottom in metric.ratios
            if top in entry and bottom in entry and entry[bottom]["median"]
        }
        metrics[metric.key] = entry
    return {
        "command": command,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "go": _tool_version(["go", "env", "GOVERSION"]),
        },
        "config": bench.config.as_dict(),
        "extras": bench.extras,
        "metrics": metrics,
    }


def _cell(entry: Mapping[str, Any] | None, digits: int) -> str:
    if entry is None:
        return "—"
    low, high = f"{entry['min']:,.{digits}f}", f"{entry['max']:,.{digits}f}"
    return f"{entry['median']:,.{digits}f} ({low}{DASH}{high})"


def _row(data: Mapping[str, Any], key: str, columns: Sequence[str], digits: int) -> str:
    entry = data["metrics"].get(key)
    if entry is None:
        return ""
    cells = [_cell(entry.get(who), digits) for who in columns]
    ratios = ", ".join(f"{name} **{value:.2f}**" for name, value in entry["ratios"].items())
    return f"| {entry['title']} | " + " | ".join(cells) + f" | {ratios or '—'} |"


def _goals(data: Mapping[str, Any]) -> list[str]:
    metrics = data["metrics"]

    def median(key: str, who: str) -> float | None:
        entry = metrics.get(key, {}).get(who)
        return None if entry is None else float(entry["median"])

    def ratio(key: str, name: str) -> float | None:
        value = metrics.get(key, {}).get("ratios", {}).get(name)
        return None if value is None else float(value)

    goals = [
        ("ours ÷ ceiling ≥ 0.8 at 16 in flight", ratio("qps_c16", "ours/ceiling"), 0.8, True),
        (
            f"10 {TIMES} 200 ms slow queries ≥ 5{TIMES} faster than Go",
            ratio("slow_request_ms", "go/ours"),
            5,
            True,
        ),
        (
            "frame encoding no slower than Go (ours ÷ Go ≤ 1)",
            ratio("encode_ms", "ours/go"),
            1,
            False,
        ),
        (
            f"long → wide ≥ 20{TIMES} faster than the row loop (issue #12)",
            ratio("long_to_wide_ms", "row_loop/ours"),
            20,
            True,
        ),
        ("cold start ≤ 250 ms", median("cold_start_ms", "ours"), 250, False),
        (
            "cold start of the shipped directory ≤ 250 ms",
            median("cold_start_shipped_ms", "ours"),
            250,
            False,
        ),
        ("Shutdown → exit ≤ 200 ms", median("shutdown_ms", "ours"), 200, False),
        ("idle RSS ≤ 60 MiB", median("rss_idle_mb", "ours"), 60, False),
        (
            "ours ÷ ceiling at 16 in flight ≥ 0.65 (issue #19)",
            ratio("qps_c16", "ours/ceiling"),
            0.65,
            True,
        ),
        (
            "1M-row frame from numpy no slower than pyarrow (ours ÷ pyarrow ≤ 1, issue #19)",
            ratio("encode_ms", "ours/pyarrow"),
            1,
            False,
        ),
        (
            "cold start of the shipped directory ≤ 120 ms (issue #19)",
            median("cold_start_shipped_ms", "ours"),
            120,
            False,
        ),
        (
            "RSS after 10k calls ≤ 40 MiB (issue #19)",
            median("rss_after_calls_mb", "ours"),
            40,
            False,
        ),
        (
            "quickstart linux_amd64 zip ≤ 25 MiB (issue #19)",
            median("zip_linux_amd64_mb", "ours"),
            25,
            False,
        ),
        (
            "… smaller than the Go binary's zip (stretch, issue #19)",
            ratio("zip_linux_amd64_mb", "ours/go"),
            1,
            False,
        ),
        (
            "all-platform directory ≤ 150 MiB (issue #19)",
            median("directory_all_mb", "ours"),
            150,
            False,
        ),
        (
            "build + package for all platforms ≤ 15 s, warm cache (issue #19)",
            median("package_all_s", "ours"),
            15,
            False,
        ),
        (
            f"`new` {ARROW} first answered query under the dev host ≤ 15 s, warm cache (issue #18)",
            median("new_to_query_s", "ours"),
            15,
            False,
        ),
        (
            "cold start of a shipped pandas-importing plugin ≤ 1,000 ms (issue #18)",
            median("cold_start_pandas_ms", "pandas"),
            1000,
            False,
        ),
        *(
            (f"RSS growth over {name} calls < 5 % (issue #11)", median(key, "ours"), 5, False)
            for name, key in (
                ("cancelled", "rss_growth_cancel_pct"),
                ("deadline-expired", "rss_growth_deadline_pct"),
                ("mixed", "rss_growth_mixed_pct"),
            )
        ),
        *(
            goal
            for mix, calls in (("cancel", "cancelled"), ("deadline", "deadline-expired"))
            for state in ("quiet", "busy")
            for goal in (
                (
                    f"settled heap: RSS growth over {calls} calls ≤ 5 %, {state} (issue #17)",
                    median(f"rss_settled_growth_{mix}_pct", state),
                    5,
                    False,
                ),
                (
                    f"settled heap: no allocation site growing over {calls} calls, {state} "
                    "(issue #17)",
                    median(f"tracemalloc_growing_sites_{mix}", state),
                    0,
                    False,
                ),
            )
        ),
    ]
    lines = ["| Goal | This run | Reached |", "| --- | --- | --- |"]
    for text, value, bound, at_least in goals:
        if value is None:
            lines.append(f"| {text} | not measured | — |")
            continue
        reached = value >= bound if at_least else value <= bound
        lines.append(f"| {text} | {value:,.2f} | {'yes' if reached else '**no**'} |")
    return lines


def _updates(data: Mapping[str, Any]) -> list[str]:
    """Sentences naming the rows a later partial run (``--only``) measured again."""
    lines = []
    for update in data.get("updates", []):
        titles = ", ".join(
            data["metrics"][key]["title"] for key in update["metrics"] if key in data["metrics"]
        )
        lines.append(
            f"Rows measured again by `{update['command']}` on {update['date']} (the figures of "
            f"one run, side by side with the Go reference where it has one): {titles}."
        )
    return [*lines, ""] if lines else []


def merge_partial(previous: Mapping[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """``previous`` with the metrics of a partial run ``data`` replaced and the run noted."""
    merged = dict(previous)
    merged["metrics"] = {**previous["metrics"], **data["metrics"]}
    merged["extras"] = {**previous.get("extras", {}), **data["extras"]}
    merged["config"] = {**previous["config"], **data["config"]}
    update = {"command": data["command"], "date": data["date"], "metrics": list(data["metrics"])}
    merged["updates"] = [*previous.get("updates", []), update]
    earlier = previous.get("extras", {}).get("settled_giveups")
    if earlier and "settled_giveups" in data["extras"]:  # section 7b shows one run before it
        runs = [u for u in previous.get("updates", []) if any("settled" in m for m in u["metrics"])]
        when = runs[-1]["date"] if runs else previous["date"]
        merged["extras"]["settled_giveups_earlier"] = {"date": when, "runs": earlier}
    return merged


def _authoring(data: Mapping[str, Any]) -> list[str]:
    """Section 9 (issue #18): a new project's first answer, a pandas plugin's cold start."""
    config = data["config"]
    stages = data.get("extras", {}).get("new_to_query_stages_s", {})
    split = ", ".join(  # seconds spent in each command
        f"`{name.removesuffix('_s')}` {statistics.median(values):.1f} s"
        for name, values in stages.items()
        if values
    )
    return [
        "## 9. Start-up for plugin authors (issue #18)",
        "",
        "From nothing to a first answer: `plutono-plugin new DIR`, `plutono-plugin build "
        "DIR/src --out DIR/build/<id> --platform <platform>` (this machine's) and "
        '`plutono-plugin host DIR/build/<id> query \'{"refId": "A", "queryType": '
        '"constant"}\'` (the dev host, `PluginHost`: start, handshake, QueryData, stop), '
        "each its own process as "
        "the new project's README runs them, with the dependency cache warm (median of "
        f"{config.get('new_reps', 0)} after {config.get('new_warmup', 0)} unrecorded)"
        + (f"; median split: {split}." if split else "."),
        "",
        "| Metric | ours | Ratio |",
        "| --- | --- | --- |",
        _row(data, "new_to_query_s", ("ours",), 2),
        "",
        "A plugin whose `plugin.py` does `import pandas` (`tests/bench/pandasplugin`, "
        "`pandas` in its `requirements.txt`, built for this machine's platform) beside the "
        "quickstart: the cold start (exec → handshake, as in section 4) of a shipped copy of "
        "each, started with only `PATH=/usr/bin:/bin`, alternated "
        f"(median of {config['cold_starts']}).",
        "",
        "| Metric | quickstart | pandas | Ratio |",
        "| --- | --- | --- | --- |",
        _row(data, "cold_start_pandas_ms", ("quickstart", "pandas"), 1),
        "",
    ]


def build_markdown(data: Mapping[str, Any], concurrency: Sequence[int]) -> str:
    """The ``docs/benchmarks.md`` text."""
    config, machine = data["config"], data["machine"]
    out = [
        "# Benchmarks",
        "",
        f"Generated by `{data['command']}` on {data['date']}: {machine['cores']} cores "
        f"({machine['platform']}), Python {machine['python']}, {machine['go']}. Every figure "
        "below comes from that one run; do not edit by hand (the profile notes come from "
        "`tests/bench/notes.md`). Raw figures: [benchmarks.json](benchmarks.json).",
        "",
        "All plugins run behind the same Go host (`tests/interop/host`: go-plugin v1.4.0 and "
        "the SDK v0.88.0 client, configured like Plutono), which also generates the load "
        "(`bench_query`). **ours** is the quickstart example (`examples/quickstart`), **go** "
        "the reference plugin on grafana-plugin-sdk-go v0.88.0 (`tests/interop/goref`), "
        "**ceiling** grpclib + our betterproto2 messages answering a precomputed response "
        "(`tests/bench/ceiling`). Runs alternate between plugins; each cell is the median of "
        f"the repetitions with min{DASH}max in parentheses. Host, load generator and plugin share "
        f"the {machine['cores']} cores, and the machine may be shared with other jobs: "
        "ratios matter more than absolute figures.",
        "",
        *_updates(data),
        "## Goals (issues #5, #11, #12, #18 and #19)",
        "",
        *_goals(data),
        "",
        f"## 1. QueryData throughput and latency ({config['reps']} {TIMES} "
        f"{config['duration_ms']} ms per level)",
        "",
        "One `sine` query of 100 points per call (Plutono's defaults: last hour, "
        "maxDataPoints 100). Ratios are of medians: for calls/s higher is better for ours, for "
        "latency lower is.",
        "",
        "| Metric | ours | go | ceiling | Ratios |",
        "| --- | --- | --- | --- | --- |",
    ]
    for level in concurrency:
        for key in (f"qps_c{level}", f"p50_c{level}", f"p99_c{level}"):
            out.append(_row(data, key, ("ours", "go", "ceiling"), 1 if key[0] == "q" else 2))
    out += [
        "",
        f"## 2. Slow queries ({config['slow_queries']} {TIMES} `slow` {config['slow_ms']} ms "
        f"in one request, {config['slow_reps']} runs)",
        "",
        "Our router runs a request's queries concurrently; the SDK's `QueryTypeMux` handler "
        "loops over them. `go/ours` is how many times faster ours answers.",
        "",
        "| Metric | ours | go | Ratio |",
        "| --- | --- | --- | --- |",
        _row(data, "slow_request_ms", ("ours", "go"), 1),
        "",
        f"## 3. Large frame ({config['frame_rows']:,} rows: time + float64)",
        "",
        "Encode: ours is `Frame(...).encode()` from numpy arrays (`tests/bench/frames.py`), go "
        "is `data.NewFrame` + `MarshalArrow` from Go slices (`tests/interop/goencode`), pyarrow "
        f"its own `ipc.new_file` write; each sample is the median of {config['encode_runs']} "
        "runs. End to end: one QueryData answering that frame (`bench_frame` query type; "
        "`tests/bench/bigframe` for ours, numpy data), timed by the host.",
        "",
        "| Metric | ours | go | pyarrow | Ratios |",
        "| --- | --- | --- | --- | --- |",
        _row(data, "encode_ms", ("ours", "go", "pyarrow"), 1),
        _row(data, "encode_marshal_only_ms", ("ours", "go", "pyarrow"), 1),
        _row(data, "frame_call_ms", ("ours", "go", "pyarrow"), 1),
        "",
        f"## 3b. Long {ARROW} wide ({config['reshape_rows']:,} rows, "
        f"{config['reshape_reps']} runs)",
        "",
        "A long frame of 100 hosts (`host` and `region` labels, two float64 values), decoded "
        "from Arrow; **ours** is the vectorised `Frame.to_wide()`, **row loop** the "
        "Python loop it replaced (`tests/frame/reference.py`), **go** SDK v0.88.0 "
        "`data.LongToWide` with `FillModeNull` on the same Arrow file "
        "(`tests/interop/goencode -longtowide`); each sample is a median of 5 conversions "
        "(`tests/bench/reshape.py`). `row_loop/ours` is the speedup.",
        "",
        "| Metric | ours | row loop | go | Ratios |",
        "| --- | --- | --- | --- | --- |",
        _row(data, "long_to_wide_ms", ("ours", "row_loop", "go"), 1),
        "",
        f"## 4{DASH}6. Process: cold start, shutdown, memory",
        "",
        "Cold start is the host's `start` reply `handshake_ms`: go-plugin's `Client()`, which "
        "execs the plugin (for ours: `/bin/sh` launcher → Python), reads the handshake line and "
        "connects (median of "
        f"{config['cold_starts']}). The shipped row starts a copy of the built directory at "
        "another path with only `PATH=/usr/bin:/bin` (the system `python3`, none of the "
        "development environment); the standalone row the `--standalone` bundle (PyInstaller, "
        "no Python needed). Shutdown is `Kill()` (Shutdown RPC, then waiting for the "
        "exit) on an idle plugin. RSS is `VmRSS` of the plugin process "
        f"{config['idle_settle_s']} s after start, and after {config['rss_calls']:,} `sine` "
        "calls at 16 in flight on a fresh process.",
        "",
        "| Metric | ours | go | Ratio |",
        "| --- | --- | --- | --- |",
        _row(data, "cold_start_ms", ("ours", "go"), 1),
        _row(data, "cold_start_shipped_ms", ("ours", "go"), 1),
        _row(data, "cold_start_standalone_ms", ("ours", "go"), 1),
        _row(data, "shutdown_ms", ("ours", "go"), 1),
        _row(data, "rss_idle_mb", ("ours", "go"), 1),
        _row(data, "rss_after_calls_mb", ("ours", "go"), 1),
        "",
        "What the shipped cold start is made of: the shipped copy's `python3 -I -S -B` with the "
        "`sys.path` `lib/boot.py` builds, importing one set of modules, then printing a line "
        f"(exec → that line, median of {config['cold_starts']}). **interpreter** imports only "
        "`boot` (which picks the paths; json and typing with it); **libraries** also the "
        "stack the runtime is built on (asyncio, grpclib's server, anyio and its asyncio "
        "backend, betterproto2); **framework** everything the plugin's own import finds "
        "loaded. The rest of the shipped cold start is the launcher, the plugin's module and "
        "starting the server.",
        "",
        "| Metric | interpreter | libraries | framework | Ratios |",
        "| --- | --- | --- | --- | --- |",
        _row(data, "cold_start_floor_ms", ("interpreter", "libraries", "framework"), 1),
        "",
        "## 7. Calls the host gives up on (issue #11)",
        "",
        f"RSS growth (`VmRSS`) over {config.get('giveup_calls', 0):,} calls after "
        f"{config.get('giveup_warmup', 0):,} warm-up calls of the same kind, 16 in flight, one "
        "process per plugin: QueryData of a 40 ms `slow` query cancelled after 5 ms (a browser "
        "tab closing), the same with a 5 ms deadline (alerting's evaluation timeout), and a mix "
        "of those, normal calls and `stream` resource calls cancelled after 5 ms. Then one "
        f"QueryData of {config.get('oversized_bytes', 0) / 1e6:,.0f} MB, which both refuse "
        "(16 MiB limit): the peak RSS (`VmHWM`) it added.",
        "",
        "| Metric | ours | go | Ratio |",
        "| --- | --- | --- | --- |",
        _row(data, "rss_growth_cancel_pct", ("ours", "go"), 2),
        _row(data, "rss_growth_deadline_pct", ("ours", "go"), 2),
        _row(data, "rss_growth_mixed_pct", ("ours", "go"), 2),
        _row(data, "oversized_peak_mb", ("ours", "go"), 1),
        "",
        *_settled_section(data),
        "## 8. What ships (issue #19)",
        "",
        "The quickstart built for all platforms (`plutono-plugin build`, dependency trees from "
        "the cache) and packaged (`plutono-plugin package`); **go** is the reference plugin's "
        "one binary for this machine, zipped the same way (deflate), and four such binaries "
        "for the directory. Sizes in MiB; the time is build + package.",
        "",
        "| Metric | ours | go | Ratio |",
        "| --- | --- | --- | --- |",
        _row(data, "zip_linux_amd64_mb", ("ours", "go"), 1),
        _row(data, "directory_all_mb", ("ours", "go"), 1),
        _row(data, "package_all_s", ("ours", "go"), 1),
        "",
        *_authoring(data),
    ]
    if NOTES.is_file():
        out += [NOTES.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(line for line in out if line is not None) + "\n"


def _settled_section(data: Mapping[str, Any]) -> list[str]:
    """Section 7b (``tests/bench/leak.py``): settled RSS growth and the tracemalloc diffs."""
    found = data.get("extras", {}).get("settled_giveups")
    if not found:
        return []
    config = data["config"]
    runs = [r for r in data.get("updates", []) if any("settled" in m for m in r["metrics"])]
    source = ""
    if runs:
        source = f"Measured by `{runs[-1]['command']}` on {runs[-1]['date']}, apart from the rest. "
    out = [
        "## 7b. Calls the host gives up on, once the heap has settled (issue #17)",
        "",
        f"{source}One process of ours per kind takes rounds of {config['settle_calls']:,} "
        "calls of section 7 (cancelled after 5 ms, or with a 5 ms deadline) until two rounds in "
        f"a row each add less than {config['settle_pct']} % to its RSS, then "
        f"{config['settled_calls']:,} more in {config['settled_chunks']} chunks; every reading "
        "waits until the plugin is idle (on a busy machine it is still draining calls the host "
        "gave up on long after the load ends). A second process per kind settles alike and runs "
        f"{config.get('trace_calls', 0):,} more under `PLUTONO_PLUGIN_TRACEMALLOC` "
        "(`plutono_plugin/_runtime/memtrace.py`; snapshots after settling, halfway and at the "
        "end): a site that grew by 64 KiB or more in both halves is *growing*. All of it runs "
        "twice in the run: **quiet** on the machine as it is, **busy** with "
        f"{config.get('busy_burners', 2)} `yes > /dev/null` beside it. Code: "
        "`tests/bench/leak.py`.",
        "",
        "| Metric | quiet | busy | Ratio |",
        "| --- | --- | --- | --- |",
    ]
    for mix in ("cancel", "deadline"):
        out += [
            _row(data, f"rss_settled_growth_{mix}_pct", ("quiet", "busy"), 2),
            _row(data, f"rss_settled_bytes_per_call_{mix}", ("quiet", "busy"), 1),
            _row(data, f"tracemalloc_growing_sites_{mix}", ("quiet", "busy"), 0),
        ]
    out += [
        "",
        "| Kind | Load average | Settling: calls, RSS MiB | RSS after each chunk, MiB "
        "| Draining after each chunk, s | Traced memory change "
        "| Largest traced growth (innermost frame in plutono_plugin) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    earlier = data["extras"].get("settled_giveups_earlier")
    rows = [(f"{mix}", result) for mix, result in found.items()]
    if earlier:
        rows += [(f"{mix}, run of {earlier['date']}", r) for mix, r in earlier["runs"].items()]
    for mix, result in rows:
        trace = result["tracemalloc"]
        top = trace["top"][0] if trace["top"] else None
        where = "—"
        if top is not None:
            site = "/".join(top["site"].rsplit("/", 2)[-2:])
            inside = f" (`{top['plugin']}`)" if top["plugin"] else ""
            where = f"{top['bytes']:+,} B at `{site}`{inside}"
        settle = ", ".join(f"{value:.1f}" for value in result["settle_rss_mb"])
        out.append(
            f"| {mix} | {result['load_average_before']:.1f} {ARROW} "
            f"{result['load_average_after']:.1f} | {result['settle_calls']:,}: {settle} | "
            f"{', '.join(f'{value:.1f}' for value in result['rss_mb'])} | "
            f"{', '.join(f'{value:.0f}' for value in result.get('drain_s', []))} | "
            f"{trace['traced_growth_bytes'] / 1024:+,.0f} KiB | {where} |"
        )
    return [*out, ""]


def write_reports(
    bench: Bench, docs: Path, command: str, *, partial: bool = False
) -> dict[str, Any]:
    """Write ``benchmarks.json`` and ``benchmarks.md`` into ``docs``; return the JSON object.

    ``partial`` (a ``--only`` run) replaces the measured rows of the existing report and
    names the command that measured them.
    """
    data = build_json(bench, command)
    existing = docs / "benchmarks.json"
    if partial and existing.is_file():
        data = merge_partial(json.loads(existing.read_text(encoding="utf-8")), data)
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "benchmarks.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    markdown = build_markdown(data, bench.config.concurrency)
    (docs / "benchmarks.md").write_text(markdown, encoding="utf-8")
    return data
