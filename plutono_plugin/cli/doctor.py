"""``plutono-plugin doctor PLUGIN_DIR``: would Plutono start and use this plugin.

Launches the directory exactly as Plutono does (:class:`~plutono_plugin.host.PluginHost`: no
arguments, a working directory elsewhere, the cookie), with the small environment a service
manager gives Plutono, and reports in plain words: files a service user cannot read, the
handshake time, the services the plugin offers, its health, anything it wrote into its own
directory, and the first problem. Exit status 0 means nothing was found.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

from .._build.check import check_names, load_json
from ..errors import ConfigurationError
from ..host import CallError, PluginExitedError, PluginHost

__all__ = ("SERVICE_PATH", "permission_problems", "plugin_settings", "run")

SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""systemd's default ``PATH`` for services: what Plutono, and so the plugin, sees."""

_Snapshot = dict[str, tuple[int, int]]


def plugin_settings(items: list[str]) -> dict[str, str]:
    """``--setting KEY=VALUE`` items as a dict; :class:`ConfigurationError` names a bad one."""
    settings = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ConfigurationError(
                f"--setting {item!r}: expected KEY=VALUE, e.g. --setting python=/usr/bin/python3"
            )
        settings[key] = value
    return settings


def permission_problems(directory: Path, launcher: Path) -> list[str]:
    """What keeps a user other than the owner (Plutono's service user) from running the plugin."""
    problems = []
    for parent in [directory, *directory.parents]:
        if not parent.stat().st_mode & stat.S_IXOTH:
            problems.append(f"{parent} cannot be entered by other users (chmod o+x {parent})")
    unreadable: list[str] = []
    for folder, directories, files in os.walk(directory):
        for name in directories:
            mode = (Path(folder) / name).stat().st_mode
            if mode & (stat.S_IROTH | stat.S_IXOTH) != stat.S_IROTH | stat.S_IXOTH:
                unreadable.append(str(Path(folder, name).relative_to(directory)) + "/")
        for name in files:
            path = Path(folder) / name
            if path.exists() and not path.stat().st_mode & stat.S_IROTH:
                unreadable.append(str(path.relative_to(directory)))
    if unreadable:
        problems.append(
            f"{len(unreadable)} file(s) other users cannot read, e.g. {unreadable[0]} "
            f"(fix: chmod -R a+rX {directory})"
        )
    if launcher.is_file() and not launcher.stat().st_mode & stat.S_IXOTH:
        problems.append(f"{launcher.name} is not executable by other users (chmod a+x it)")
    return problems


def _snapshot(directory: Path) -> _Snapshot:
    result = {}
    for folder, _directories, files in os.walk(directory):
        for name in files:
            path = Path(folder) / name
            with_stat = path.lstat()
            result[str(path.relative_to(directory))] = (with_stat.st_size, with_stat.st_mtime_ns)
    return result


def _first_error(stderr: str) -> str:
    """The message of the first hclog error line the launcher wrote, else the last line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("@level") == "error":
            return str(record.get("@message"))
    return lines[-1] if lines else "no output"


async def _services(host: PluginHost, say: list[tuple[str, str]]) -> list[str]:
    problems: list[str] = []
    offered = ["Diagnostics"]
    try:
        await host.query({"refId": "A"})
        offered.append("Data")
    except CallError as error:
        if error.status != "UNIMPLEMENTED":
            offered.append("Data")
        elif host.manifest.type == "datasource":
            problems.append("the datasource does not implement QueryData")
    try:
        await host.call_resource("GET", "")
        offered.append("Resource")
    except CallError as error:
        if error.status != "UNIMPLEMENTED":
            offered.append("Resource")
    say.append(("services", ", ".join(offered)))
    health = await host.check_health()
    say.append(("health", f"{health.status}: {health.message}"))
    if health.status != "OK":
        problems.append(f"CheckHealth answers {health.status}: {health.message}")
    metrics = await host.collect_metrics()
    count = sum(1 for line in metrics.splitlines() if line and not line.startswith("#"))
    say.append(("metrics", f"{count} samples"))
    return problems


def _json_object(text: str | None, option: str) -> dict[str, Any] | None:
    """The JSON object given as ``option`` (the datasource's settings), or ``None``."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ConfigurationError(f"{option} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ConfigurationError(f'{option} must be a JSON object like \'{{"url": "…"}}\'')
    return value


async def _launch(
    directory: Path, options: argparse.Namespace, say: list[tuple[str, str]]
) -> list[str]:
    problems: list[str] = []
    settings = plugin_settings(options.setting)
    json_data = _json_object(getattr(options, "json_data", None), "--json-data")
    secure_json_data = _json_object(
        getattr(options, "secure_json_data", None), "--secure-json-data"
    )
    try:
        async with PluginHost.start(
            directory,
            env={"PATH": SERVICE_PATH},
            plugin_settings=settings,
            json_data=json_data,
            secure_json_data=secure_json_data,
            inherit_environment=False,
            start_timeout=options.timeout,
        ) as host:
            shake = host.handshake
            name = host.executable.name
            say.append(("started", f"{name} in {host.handshake_seconds * 1000:.0f} ms"))
            say.append(("handshake", f"1|{shake.app_version}|{shake.network}|…|grpc|"))
            problems += await _services(host, say)
            stop = await host.stop()
            how = "gracefully" if stop.graceful else "only after SIGKILL"
            say.append(("stop", f"exited {how} in {stop.seconds * 1000:.0f} ms"))
            if not stop.graceful:
                problems.append("the plugin did not exit within 2 s of Shutdown")
            problems += host.problems
            problems += [f"logged an error: {r.message}" for r in host.logs if r.level == "error"]
    except PluginExitedError as error:
        problems.append(f"the plugin exited before the handshake: {_first_error(error.stderr)}")
    return problems


def _diagnose(options: argparse.Namespace, say: list[tuple[str, str]]) -> list[str]:
    from .._host.wire import executable_path, read_manifest

    directory = Path(options.plugin_dir).absolute()
    manifest = read_manifest(directory)
    raw = load_json(directory / "plugin.json")
    if isinstance(raw, dict):
        # an executable of "../x" would start a program outside the plugin (issue 17)
        check_names(directory / "plugin.json", raw)
    say.append(("plugin", f"{manifest.id} ({manifest.type}) in {directory}"))
    problems = permission_problems(directory, executable_path(manifest))
    say.append(("files", "readable by a service user" if not problems else "see problems"))
    before = _snapshot(directory)
    launched = asyncio.run(_launch(directory, options, say))
    # A plugin that cannot start is the first thing to fix, before any file mode.
    if launched and launched[0].startswith("the plugin exited before the handshake"):
        problems = [*launched, *problems]
    else:
        problems = [*problems, *launched]
    changed = sorted(set(_snapshot(directory).items()) ^ set(before.items()))
    if changed:
        problems.append(
            f"the plugin wrote into its own directory ({changed[0][0]}…), which breaks a "
            "signed plugin (contract 2.2)"
        )
    return problems


def run(options: argparse.Namespace) -> int:
    """Diagnose ``options.plugin_dir``; print the report; 0 when nothing is wrong.

    Returns 2, with the message on stderr, when the command line itself is wrong.
    """
    try:
        plugin_settings(options.setting)
    except ConfigurationError as error:
        print(f"plutono-plugin doctor: {error}", file=sys.stderr)
        return 2
    say: list[tuple[str, str]] = []
    try:
        problems = _diagnose(options, say)
    except (ConfigurationError, OSError) as error:
        say.append(("error", str(error)))
        problems = [str(error)]
    for key, value in say:
        print(f"{key:<11} {value}")
    if not problems:
        print("verdict     ready: Plutono can start and use this plugin")
        return 0
    print(f"verdict     not ready; first problem: {problems[0]}")
    for problem in problems[1:]:
        print(f"            also: {problem}")
    return 1
