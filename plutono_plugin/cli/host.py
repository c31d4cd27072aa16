"""``plutono-plugin host <plugin-dir> <command>``: drive a built plugin from the terminal.

Every command starts the plugin as Plutono would, does one thing, prints it and stops the
plugin. ``demo`` is the guided tour: handshake time, health, a query of each of the plugin's
query types as tables, a few metrics, its ``GET`` resources, the plugin's log lines and the
shutdown time. ``dev`` keeps the
plugin running and restarts it whenever it exits, as Plutono does: with a ``--dev`` build, every
source change shows up in its output (optionally a query's tables) without a command.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._host.describe import describe_plugin
from ..errors import PluginError
from ..host import CallError, HealthReply, LogRecord, PluginHost, QueryReply, ResourceReply

if TYPE_CHECKING:
    from ..frame import Frame

__all__ = ("build_parser", "format_frame", "run")

_STANDARD_METRICS = (
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
    "python_info",
    "go_goroutines",
    "go_info",
)
_STANDARD_PREFIXES = ("process_", "python_", "go_", "promhttp_")
_DEMO_LIMIT = 6


def format_frame(frame: Frame, *, head: int = 3, tail: int = 2) -> list[str]:
    """Lines of a small aligned table: field names, types, labels, first and last rows."""
    if frame.rows > head + tail:
        return frame.to_table(max_rows=head + tail).splitlines()
    return frame.to_table(max_rows=None).splitlines()


def _interesting_metrics(text: str, limit: int = 8) -> list[str]:
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    own: dict[str, str] = {}
    for line in samples:
        name = line.split("{")[0].split(" ")[0]
        if not name.startswith(_STANDARD_PREFIXES) and not name.endswith(("_bucket", "_created")):
            own.setdefault(name, line)
    standard = [line for line in samples if line.split("{")[0].split(" ")[0] in _STANDARD_METRICS]
    return ([*own.values()][: limit // 2] + standard)[:limit]


def _print_health(result: HealthReply) -> None:
    print(f"{result.status}: {result.message}")
    if result.details:
        print(json.dumps(result.details, indent=2, sort_keys=True))


def _print_responses(responses: dict[str, QueryReply], indent: str = "") -> None:
    for ref_id, (frames, error) in responses.items():
        print(
            f"{indent}refId {ref_id}: {len(frames)} frame(s)"
            + (f", error: {error}" if error else "")
        )
        for frame in frames:
            for line in format_frame(frame):
                print(f"{indent}  {line}")


def _print_resource(response: ResourceReply) -> None:
    print(f"HTTP {response.status} ({len(response.chunks)} message(s))")
    for key, values in sorted(response.headers.items()):
        for value in values:
            print(f"{key}: {value}")
    print()
    print(response.text)


def _parse_queries(text: str) -> tuple[list[dict[str, Any]], tuple[Any, Any] | None]:
    """A target object, a list of targets, or an ``/api/ds/query`` body with from/to."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ValueError(f"query is not valid JSON: {error}") from None
    span = None
    if isinstance(value, dict) and "queries" in value:
        span = (value.get("from", "now-6h"), value.get("to", "now"))
        value = value["queries"]
    targets = value if isinstance(value, list) else [value]
    if not targets or not all(isinstance(item, dict) for item in targets):
        raise ValueError("query must be a JSON object, a list of objects, or {'queries': [...]}")
    return targets, span


def _api_json(raw: dict[str, Any]) -> str:
    results = {}
    for ref_id, response in raw.items():
        entry: dict[str, Any] = {
            "refId": ref_id,
            "dataframes": [base64.b64encode(frame).decode() for frame in response.frames],
        }
        if response.error:
            entry["error"] = response.error
        results[ref_id] = entry
    return json.dumps({"results": results}, indent=2)


async def _demo(host: PluginHost) -> int:
    manifest = host.manifest
    print(f"plugin      {manifest.id} ({manifest.name or manifest.type}) in {manifest.directory}")
    versions = host.environment["PLUGIN_PROTOCOL_VERSIONS"]
    print(f"started     {host.executable.name}, PLUGIN_PROTOCOL_VERSIONS={versions}")
    shake = host.handshake
    line = f"{shake.core_version}|{shake.app_version}|{shake.network}|{shake.address}|grpc|"
    print(f"handshake   {line} after {host.handshake_seconds * 1000:.0f} ms")
    print(f"ping        {'SERVING' if await host.ping() else 'NOT SERVING'}")
    health = await host.check_health()
    print(f"health      {health.status}: {health.message}")
    described = describe_plugin(host.manifest.directory)
    targets = _demo_targets(described)
    for target in targets:
        print(f"query       {json.dumps(target)} over the last 6 hours")
        _print_responses(await host.query(target), indent="  ")
    if not targets:
        print("query       the plugin registers no query handler")
    metrics = await host.collect_metrics()
    count = sum(1 for line in metrics.splitlines() if line and not line.startswith("#"))
    print(f"metrics     {count} samples; a few of them:")
    for line in _interesting_metrics(metrics):
        print(f"  {line}")
    for path in _demo_resources(described):
        await _demo_resource(host, path)
    stop = await host.stop()
    how = "gracefully" if stop.graceful else "after SIGKILL"
    print(f"stop        exited {how} in {stop.seconds * 1000:.0f} ms (exit code {stop.exit_code})")
    print(f"logs        {len(host.logs)} line(s) from the plugin:")
    for record in host.logs:
        print(f"  {record}")
    _print_problems(host, sys.stdout)
    return 0


def _demo_targets(described: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One target per query type of the plugin (the quickstart's ``sine`` when unknown)."""
    if described is None:
        return [{"refId": "A", "queryType": "sine"}]
    targets = []
    for index, query_type in enumerate(described["queryTypes"][:_DEMO_LIMIT]):
        ref_id = chr(ord("A") + index)
        targets.append({"refId": ref_id, "queryType": query_type["type"], **query_type["model"]})
    return targets


def _demo_resources(described: dict[str, Any] | None) -> list[str]:
    """The plugin's ``GET`` resources without path parameters (``ping`` when unknown)."""
    if described is None:
        return ["ping"]
    return list(described["resources"][:_DEMO_LIMIT])


async def _demo_resource(host: PluginHost, path: str) -> None:
    try:
        response = await host.call_resource("GET", path)
    except CallError as error:
        print(f"resource    GET {path}: {error.status} (the plugin has no resource handler)")
        return
    content_type = ",".join(response.headers.get("Content-Type", [])) or "no Content-Type"
    body = response.text if len(response.text) <= 80 else response.text[:79] + "…"
    print(f"resource    GET {path} -> {response.status} ({content_type}) {body.strip()}")


def _print_problems(host: PluginHost, stream: Any) -> None:
    if host.problems:
        print(f"problems    {len(host.problems)} thing(s) Plutono would handle badly:", file=stream)
        for problem in host.problems:
            print(f"  - {problem}", file=stream)
    elif stream is sys.stdout:
        print("problems    none")


async def _dev(host: PluginHost, args: argparse.Namespace) -> int:
    print(f"serving {host.manifest.id}; restarted whenever it exits; Ctrl-C stops", flush=True)
    while True:
        verb = "started" if host.restarts == 0 else f"restart {host.restarts}:"
        print(f"{verb} handshake after {host.handshake_seconds * 1000:.0f} ms", flush=True)
        if args.query:
            targets, _ = _parse_queries(args.query)
            try:
                _print_responses(await host.query(*targets), indent="  ")
            except CallError as error:
                print(f"  query failed: {error}")
            sys.stdout.flush()
        await host.wait_for_restarts(host.restarts + 1, timeout=None)


async def _command(args: argparse.Namespace) -> int:
    on_log: Callable[[LogRecord], None] | None = None
    if args.logs or args.command == "dev":

        def on_log(record: LogRecord) -> None:
            print(f"[plugin] {record}", file=sys.stderr)

    settings = dict(item.split("=", 1) for item in args.setting)
    if args.debug:
        settings.setdefault("debug", args.debug)  # plutono_plugin/_runtime/debug.py
    async with PluginHost.start(
        args.plugin_dir,
        plugin_settings=settings,
        json_data=json.loads(args.json_data) if args.json_data else None,
        secure_json_data=json.loads(args.secure_json_data) if args.secure_json_data else None,
        start_timeout=args.timeout,
        on_log=on_log,
        restart=args.command == "dev",
    ) as host:
        code = await _run_command(host, args)
    if args.command != "demo":
        _print_problems(host, sys.stderr)
    return code


async def _run_command(host: PluginHost, args: argparse.Namespace) -> int:
    if args.command == "demo":
        return await _demo(host)
    if args.command == "dev":
        return await _dev(host, args)
    if args.command == "health":
        health = await host.check_health()
        _print_health(health)
        return 0 if health.ok else 1
    if args.command == "metrics":
        print(await host.collect_metrics(), end="")
        return 0
    if args.command == "query":
        targets, span = _parse_queries(args.query)
        span = (args.from_, args.to) if args.from_ or args.to else span
        if span is not None:
            span = (span[0] or "now-6h", span[1] or "now")
        if args.json:
            raw = await host.query_raw(*targets, time_range=span)
            print(_api_json(raw))
            return 1 if any(response.error for response in raw.values()) else 0
        responses = await host.query(*targets, time_range=span)
        _print_responses(responses)
        return 1 if any(response.error for response in responses.values()) else 0
    body = args.body or ""
    headers: dict[str, list[str]] = {}
    for item in args.header:
        key, _, value = item.partition(":")
        headers.setdefault(key.strip(), []).append(value.strip())
    response = await host.call_resource(args.method, args.path, body=body, headers=headers)
    _print_resource(response)
    return 0 if 0 < response.status < 400 else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``plutono-plugin host``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--timeout", type=float, default=60.0, help="start timeout in seconds")
    common.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an entry of the ini section [plugin.<id>] (sent as PL_PLUGIN_<KEY>)",
    )
    common.add_argument("--json-data", metavar="JSON", help="the datasource's jsonData")
    common.add_argument("--secure-json-data", metavar="JSON", help="decrypted secureJsonData")
    common.add_argument("--logs", action="store_true", help="echo plugin log lines to stderr")
    common.add_argument(
        "--debug",
        nargs="?",
        const="on",
        choices=("on", "wait"),
        help="let a debugger attach (port in the logs); --debug=wait holds the start until then",
    )
    parser = argparse.ArgumentParser(
        prog="plutono-plugin host",
        description="Run a built plugin directory the way Plutono does and call it.",
    )
    parser.add_argument("plugin_dir", help="directory holding plugin.json and the executable")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo", parents=[common], help="a tour: health, each query type, resources, metrics, logs"
    )
    dev = commands.add_parser("dev", parents=[common], help="serve, restart on exit (hot reload)")
    dev.add_argument("--query", help="a target to run after every (re)start, shown as tables")
    commands.add_parser("health", parents=[common], help="CheckHealth (exit 1 unless OK)")
    commands.add_parser("metrics", parents=[common], help="CollectMetrics (Prometheus text)")
    query = commands.add_parser("query", parents=[common], help="QueryData, frames as tables")
    query.add_argument("query", help='a target like \'{"refId": "A", "queryType": "sine"}\'')
    query.add_argument("--from", dest="from_", help="range start (epoch ms or now-6h)")
    query.add_argument("--to", help="range end (epoch ms or now)")
    query.add_argument("--json", action="store_true", help="print /api/ds/query-style JSON")
    resource = commands.add_parser("resource", parents=[common], help="CallResource")
    resource.add_argument("method", help="HTTP method")
    resource.add_argument("path", help="path below /resources/, may include ?query")
    resource.add_argument("--body", help="request body, or @file")
    resource.add_argument("--header", action="append", default=[], metavar="'Key: value'")
    return parser


def run(argv: Sequence[str]) -> int:
    """Parse ``argv`` (what follows ``plutono-plugin host``) and run the command."""
    args = build_parser().parse_args(list(argv))
    try:
        if getattr(args, "body", None) and args.body.startswith("@"):
            args.body = Path(args.body[1:]).read_text(encoding="utf-8")
        return asyncio.run(_command(args))
    except KeyboardInterrupt:
        return 0
    except CallError as error:
        print(f"error: rpc error: code = {error.status} desc = {error.detail}", file=sys.stderr)
        return 1
    except (PluginError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
