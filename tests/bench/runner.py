"""The measurements: every plugin behind its own Go host (go-plugin v1.4.0), runs alternated.

Each measurement is repeated ``Config.reps`` times and the plugins take turns within every
repetition (A B C, B C A, ...), so a slow spell of the shared machine hits all of them alike.
A sample list per plugin per metric comes back; :mod:`tests.bench.report` summarises them.

Example::

    samples = run_all(Config.quick(), Path("/tmp/bench"))
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests._tools import go_binary
from tests.bench import frames, reshape
from tests.bench.authoring import measure_new_project, measure_pandas
from tests.bench.plugins import PluginDir, prepare_plugins
from tests.interop.gohost import GoHost, Query

Samples = dict[str, dict[str, list[float]]]
"""metric → plugin (``ours``, ``go``, ``ceiling``, ``pyarrow``, ``row_loop``) → one value per
repetition."""

SINE: list[Query] = [{"ref_id": "A", "query_type": "sine", "json": {}}]
"""One ``sine`` query; Plutono's defaults give 100 points over the last hour."""


@dataclass(frozen=True)
class Config:
    """Sizes and repetitions; :meth:`quick` is the smoke test's, the defaults ``make bench``'s."""

    concurrency: tuple[int, ...] = (1, 16, 64)
    duration_ms: int = 2000
    warmup_calls: int = 100
    reps: int = 3
    slow_queries: int = 10
    slow_ms: int = 200
    slow_reps: int = 5
    frame_rows: int = 1_000_000
    frame_reps: int = 5
    encode_runs: int = 5
    reshape_rows: int = 200_000
    reshape_reps: int = 3
    cold_starts: int = 10
    rss_calls: int = 10_000
    rss_reps: int = 2
    idle_settle_s: float = 0.5
    giveup_calls: int = 10_000
    giveup_warmup: int = 2_000
    oversized_bytes: int = 200_000_000
    footprint_reps: int = 3
    new_reps: int = 3
    new_warmup: int = 1
    settle_calls: int = 5_000
    settle_rounds: int = 12
    settle_pct: float = 0.5
    settled_calls: int = 50_000
    settled_chunks: int = 5
    trace_calls: int = 10_000
    busy_burners: int = 2
    """CPU-bound ``yes > /dev/null`` processes beside the busy leak run (issue #17)."""

    @classmethod
    def quick(cls) -> Config:
        """Tiny sizes: the whole run takes seconds (structure check, no meaningful figures)."""
        return cls(
            concurrency=(1, 4),
            duration_ms=150,
            warmup_calls=5,
            reps=1,
            slow_queries=3,
            slow_ms=20,
            slow_reps=1,
            frame_rows=1000,
            frame_reps=1,
            encode_runs=1,
            reshape_rows=2000,
            reshape_reps=1,
            cold_starts=1,
            rss_calls=50,
            rss_reps=1,
            idle_settle_s=0.05,
            giveup_calls=100,
            giveup_warmup=20,
            oversized_bytes=20_000_000,
            footprint_reps=1,
            new_reps=1,
            new_warmup=0,
            settle_calls=50,
            settle_rounds=1,
            settled_calls=100,
            settled_chunks=2,
            trace_calls=100,
            busy_burners=1,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return asdict(self)


@dataclass
class Bench:
    """Hosts and plugin directories of one run."""

    config: Config
    workdir: Path
    plugins: dict[str, PluginDir] = field(default_factory=dict)
    samples: Samples = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def add(self, metric: str, who: str, value: float) -> None:
        """Record one sample."""
        self.samples.setdefault(metric, {}).setdefault(who, []).append(round(value, 3))


def _rotations(names: Sequence[str], rep: int) -> list[str]:
    shift = rep % len(names)
    return list(names[shift:]) + list(names[:shift])


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} for pid {pid}")


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (``VmRSS`` of ``/proc/<pid>/status``)."""
    return _status_mb(pid, "VmRSS")


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size of ``pid`` in MiB (``VmHWM``)."""
    return _status_mb(pid, "VmHWM")


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of ``pid`` in clock ticks (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_idle(pid: int, *, timeout: float = 600.0) -> float:
    """Wait until ``pid`` uses under 2 % of a core for a second; return the seconds waited.

    The host gives up on a call after 5 ms and starts the next, so on a busy machine the plugin
    can be tens of seconds behind when a load ends: its socket still holds the frames of
    thousands of calls. Memory read before that backlog is drained measures the backlog.
    """
    began = time.monotonic()
    ticks = cpu_ticks(pid)
    while time.monotonic() - began < timeout:
        time.sleep(1.0)
        now = cpu_ticks(pid)
        if now - ticks <= 2:
            break
        ticks = now
    return time.monotonic() - began


def _checked(reply: dict[str, Any], what: str) -> dict[str, Any]:
    if not reply.get("ok"):
        raise RuntimeError(f"{what} failed: {reply.get('error')}")
    return reply


@contextmanager
def _started(bench: Bench, who: str, env: dict[str, str] | None = None) -> Iterator[GoHost]:
    plugin = bench.plugins[who]
    host = GoHost(go_binary("host"), stderr_path=bench.workdir / f"host-{who}.stderr")
    try:
        _checked(dict(host.start(plugin.directory, plugin.plugin_id, env=env)), f"start {who}")
        yield host
    finally:
        host.close()


def _bench(host: GoHost, queries: Sequence[Query], **load: int) -> dict[str, Any]:
    args: dict[str, object] = {"queries": [dict(q) for q in queries], **load}
    timeout = load.get("duration_ms", 0) / 1000 + 120
    return _checked(host.command("bench_query", args, timeout=timeout), "bench_query")


def measure_throughput(bench: Bench) -> None:
    """1: QueryData per second, p50 and p99 at each concurrency; ours, Go, ceiling."""
    config = bench.config
    with _started(bench, "ours") as ours:
        answer = _checked(dict(ours.query(SINE)), "sine query")
        frames_file = bench.workdir / "ceiling-frames.txt"
        frames_file.write_text("\n".join(answer["responses"]["A"]["frames_base64"]))
        env = {"BENCH_CEILING_FRAMES": str(frames_file)}
        with _started(bench, "go") as go, _started(bench, "ceiling", env) as ceiling:
            hosts = {"ours": ours, "go": go, "ceiling": ceiling}
            for host in hosts.values():  # first calls (lazy imports, caches) not measured
                _bench(host, SINE, count=config.warmup_calls, concurrency=4)
            for rep in range(config.reps):
                for level in config.concurrency:
                    for who in _rotations(list(hosts), rep + level):
                        reply = _bench(
                            hosts[who],
                            SINE,
                            concurrency=level,
                            duration_ms=config.duration_ms,
                            warmup=config.warmup_calls // 4,
                        )
                        bench.add(f"qps_c{level}", who, reply["per_second"])
                        bench.add(f"p50_c{level}", who, reply["p50_ms"])
                        bench.add(f"p99_c{level}", who, reply["p99_ms"])


def measure_slow(bench: Bench) -> None:
    """2: one request of N ``slow`` queries of D ms each: call latency, ours vs Go."""
    config = bench.config
    queries: list[Query] = [
        {"ref_id": f"Q{i}", "query_type": "slow", "json": {"durationMs": config.slow_ms}}
        for i in range(config.slow_queries)
    ]
    with _started(bench, "ours") as ours, _started(bench, "go") as go:
        hosts = {"ours": ours, "go": go}
        for rep in range(config.slow_reps + 1):
            for who in _rotations(list(hosts), rep):
                reply = _bench(hosts[who], queries, count=1)
                if rep:  # the first round warms up
                    bench.add("slow_request_ms", who, reply["p50_ms"])


def measure_frame(bench: Bench) -> None:
    """3: the large frame: encode time (ours, Go MarshalArrow, pyarrow) and end-to-end call."""
    config = bench.config
    goencode = go_binary("goencode")
    for rep in range(config.frame_reps):
        for who in _rotations(["ours", "go"], rep):
            if who == "ours":
                result = frames.run(rows=config.frame_rows, runs=config.encode_runs)
                bench.add("encode_ms", "ours", result["ours_ms"])
                bench.add("encode_ms", "pyarrow", result["pyarrow_ms"])
                bench.extras["encode_bytes_ours"] = result["ours_bytes"]
            else:
                out = subprocess.run(
                    [
                        str(goencode),
                        f"-rows={config.frame_rows}",
                        f"-runs={config.encode_runs}",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=300,
                )
                result = json.loads(out.stdout)
                bench.add("encode_ms", "go", result["new_frame_and_marshal"]["median_ms"])
                bench.add("encode_marshal_only_ms", "go", result["marshal_arrow"]["median_ms"])
                bench.extras["encode_bytes_go"] = result["bytes"]
    query: list[Query] = [
        {"ref_id": "A", "query_type": "bench_frame", "json": {"rows": config.frame_rows}}
    ]
    with _started(bench, "ours_frame") as ours, _started(bench, "go") as go:
        hosts = {"ours": ours, "go": go}
        for host in hosts.values():
            _bench(host, query, count=1)  # warm-up
        for rep in range(config.frame_reps):
            for who in _rotations(list(hosts), rep):
                bench.add("frame_call_ms", who, _bench(hosts[who], query, count=1)["p50_ms"])


def measure_reshape(bench: Bench) -> None:
    """3b: long → wide on the same frame: ours, the row loop it replaced, Go ``LongToWide``."""
    config = bench.config
    for _ in range(config.reshape_reps):
        result = reshape.run(rows=config.reshape_rows)
        bench.add("long_to_wide_ms", "ours", result["ours_ms"])
        bench.add("long_to_wide_ms", "row_loop", result["row_loop_ms"])
        bench.add("long_to_wide_ms", "go", result["go_ms"])
        bench.extras["long_to_wide_fields"] = result["wide_fields"]


def _cold_start(bench: Bench, host_binary: Path, who: str) -> dict[str, Any]:
    plugin = bench.plugins[who]
    host = GoHost(
        host_binary,
        stderr_path=bench.workdir / f"host-cold-{who}.stderr",
        env={"PATH": "/usr/bin:/bin"} if plugin.clean_env else None,
        inherit_env=not plugin.clean_env,
    )
    try:
        reply: dict[str, Any] = dict(host.start(plugin.directory, plugin.plugin_id))
        started = _checked(reply, f"start {who}")
        if who in ("ours", "go"):
            time.sleep(bench.config.idle_settle_s)
            bench.add("rss_idle_mb", who, rss_mb(started["pid"]))
        killed = _checked(dict(host.kill()), f"kill {who}")
        if not killed["graceful"]:
            raise RuntimeError(f"{who} did not exit on Shutdown (SIGKILLed after 2 s)")
        if who in ("ours", "go"):
            bench.add("shutdown_ms", who, killed["elapsed_ms"])
        return started
    finally:
        host.close()


def measure_process(bench: Bench) -> None:
    """4-6: cold start, Shutdown → exit when idle, RSS idle and after many calls; ours vs Go.

    Cold start is measured for the shipped directory too (a copy, clean environment, system
    ``python3``) and for the ``--standalone`` bundle; Go's samples are their reference.
    """
    config = bench.config
    host_binary = go_binary("host")
    for rep in range(config.cold_starts):
        for who in _rotations(["ours", "go", "shipped", "standalone"], rep):
            milliseconds = _cold_start(bench, host_binary, who)["handshake_ms"]
            if who in ("ours", "go"):
                bench.add("cold_start_ms", who, milliseconds)
            for kind in ("shipped", "standalone"):
                if who in (kind, "go"):
                    bench.add(
                        f"cold_start_{kind}_ms", "go" if who == "go" else "ours", milliseconds
                    )
    _measure_import_floor(bench)
    for rep in range(config.rss_reps):
        for who in _rotations(["ours", "go"], rep):
            with _started(bench, who) as host:
                pid = host.restarts()["pid"]
                _bench(host, SINE, count=config.rss_calls, concurrency=16)
                bench.add("rss_after_calls_mb", who, rss_mb(pid))


_FLOOR_IMPORTS = {
    "interpreter": "",
    # what the runtime cannot start without: the event loop, the gRPC server, anyio with the
    # backend anyio.run loads, and the protobuf runtime the generated messages need
    "libraries": "import asyncio, grpclib.server, anyio, anyio._backends._asyncio, betterproto2",
    # ... plus the framework, up to importing the plugin
    "framework": "import plutono_plugin.cli.serve, plutono_plugin._runtime.runner",
}


def _measure_import_floor(bench: Bench) -> None:
    """What the shipped cold start is made of: exec → ready, importing less and less.

    The shipped copy's own interpreter (``python3`` on ``/usr/bin:/bin``, as the shipped row)
    runs ``-I -S -B`` with the ``sys.path`` ``lib/boot.py`` gives the plugin, imports one set
    of modules and prints a line; the time is exec → that line, as the cold start is exec →
    handshake line. ``interpreter`` imports only ``boot`` (to build the paths), ``libraries``
    the third-party stack the runtime is built on too, ``framework`` everything the plugin's
    own import finds loaded.
    """
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        raise RuntimeError("no python3 on /usr/bin:/bin for the import floor")
    lib = bench.plugins["shipped"].directory / "lib"
    for rep in range(bench.config.cold_starts):
        for who in _rotations(list(_FLOOR_IMPORTS), rep):
            code = (
                f"import sys\nsys.path.insert(0, {str(lib)!r})\nimport boot\n"
                "tree = boot.deps_name(boot.variant_name(*boot.this_variant()), "
                "sys.version_info[:2])\n"
                f"sys.path[:0] = boot.search_path({str(lib)!r}, tree)\n"
                f"{_FLOOR_IMPORTS[who]}\nsys.stdout.write('ready\\n')\nsys.stdout.flush()\n"
            )
            began = time.perf_counter()
            with subprocess.Popen(
                [python, "-I", "-S", "-B", "-c", code],
                env={"PATH": "/usr/bin:/bin"},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
            ) as child:
                assert child.stdout is not None
                line = child.stdout.readline()
                elapsed = (time.perf_counter() - began) * 1000
                child.wait(timeout=30)
            if line != b"ready\n" or child.returncode != 0:
                raise RuntimeError(f"import floor {who}: {line!r}, exit {child.returncode}")
            bench.add("cold_start_floor_ms", who, elapsed)


def _tree_mb(directory: Path) -> float:
    """Apparent size of everything under ``directory`` (what a copy or an unzip writes)."""
    total = sum(
        path.stat().st_size
        for path in directory.rglob("*")
        if path.is_file() and not path.is_symlink()
    )
    return total / 2**20


def measure_footprint(bench: Bench) -> None:
    """8: what ships (issue #19): quickstart zips and directory vs the Go binary; build time.

    ``package`` time is a fresh all-platform ``build`` (dependency trees cached, as on a
    developer's machine after the first build) plus ``package``. Go's zip holds its one binary
    (this machine's platform), deflated like ours.
    """
    import zipfile

    from plutono_plugin.cli.build import build_plugin_dir
    from plutono_plugin.cli.package import package_plugin
    from tests._tools import ROOT

    goref = bench.plugins["go"].directory
    binary = next(path for path in goref.iterdir() if path.name.startswith("gpx_")).resolve()
    go_zip = bench.workdir / "goref.zip"
    with zipfile.ZipFile(go_zip, "w") as bundle:
        bundle.write(binary, binary.name, zipfile.ZIP_DEFLATED)
    for rep in range(bench.config.footprint_reps):
        began = time.monotonic()
        built = build_plugin_dir(
            ROOT / "examples" / "quickstart", bench.workdir / "footprint" / str(rep) / "quickstart"
        )
        archives = package_plugin(built.directory, bench.workdir / "footprint" / str(rep) / "dist")
        bench.add("package_all_s", "ours", time.monotonic() - began)
        linux = next(path for path in archives if path.name.endswith(".linux_amd64.zip"))
        bench.add("zip_linux_amd64_mb", "ours", linux.stat().st_size / 2**20)
        bench.add("zip_linux_amd64_mb", "go", go_zip.stat().st_size / 2**20)
        bench.add("directory_all_mb", "ours", _tree_mb(built.directory))
        bench.add("directory_all_mb", "go", 4 * binary.stat().st_size / 2**20)


GIVEUP_MIXES: dict[str, list[str]] = {
    "cancel": ["cancel"],
    "deadline": ["deadline"],
    "mixed": ["ok", "cancel", "deadline", "resource_cancel"],
}
"""Loads of calls the host gives up on (``bench_query`` ``mix``), by metric name."""


def measure_giveups(bench: Bench) -> None:
    """7: RSS growth over calls the host cancels or lets expire; peak RSS for a huge request."""
    config = bench.config
    slow: list[Query] = [{"ref_id": "A", "query_type": "slow", "json": {"durationMs": 40}}]
    for who in ("ours", "go"):
        with _started(bench, who) as host:
            pid = host.restarts()["pid"]
            for name, mix in GIVEUP_MIXES.items():
                load = {
                    "concurrency": 16,
                    "mix": mix,
                    "cancel_after_ms": 5,
                    "deadline_ms": 5,
                    "resource_path": "stream",
                }
                host.command(
                    "bench_query",
                    {"queries": slow, "count": config.giveup_warmup, **load},
                    timeout=300,
                )
                before = rss_mb(pid)
                host.command(
                    "bench_query",
                    {"queries": slow, "count": config.giveup_calls, **load},
                    timeout=600,
                )
                bench.add(f"rss_growth_{name}_pct", who, (rss_mb(pid) / before - 1) * 100)
            baseline = peak_rss_mb(pid)
            padded: list[Query] = [
                {"ref_id": "A", "query_type": "sine", "pad_bytes": config.oversized_bytes}
            ]
            reply = host.query(padded, timeout_ms=120_000)
            if reply.get("grpc_code") != "ResourceExhausted":
                raise RuntimeError(f"{who} did not refuse the oversized request: {reply}")
            bench.add("oversized_peak_mb", who, peak_rss_mb(pid) - baseline)


def measure_settled_giveups(bench: Bench) -> None:
    """7b: RSS per call given up on once the heap has settled, and tracemalloc (leak.py)."""
    from tests.bench.leak import settled_giveups  # leak.py builds on this module

    settled_giveups(bench)


MEASUREMENTS: tuple[Callable[[Bench], None], ...] = (
    measure_throughput,
    measure_slow,
    measure_frame,
    measure_reshape,
    measure_process,
    measure_giveups,
    measure_footprint,
    measure_new_project,
    measure_pandas,
    measure_settled_giveups,
)


def run_all(
    config: Config,
    workdir: Path,
    log: Callable[[str], None] = lambda _: None,
    only: Sequence[str] = (),
) -> Bench:
    """Prepare the plugins and run every measurement (or those named in ``only``)."""
    bench = Bench(config, workdir)
    bench.plugins = prepare_plugins(workdir / "plugins")
    go_binary("goencode")
    chosen = [m for m in MEASUREMENTS if not only or m.__name__.removeprefix("measure_") in only]
    for measurement in chosen:
        began = time.monotonic()
        log(f"{measurement.__name__} ...")
        measurement(bench)
        log(f"{measurement.__name__}: {time.monotonic() - began:.1f} s")
    return bench
