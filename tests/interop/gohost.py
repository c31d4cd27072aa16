"""Drive the real Go host (``tests/interop/host``) from Python.

The host is Plutono 7.5.49's plugin launcher in miniature: hashicorp/go-plugin v1.4.0 and the
grafana-plugin-sdk-go v0.88.0 client types, configured like Plutono (contract 1.1, 1.2, 2.3).
It speaks JSON lines; :class:`GoHost` sends one command, waits (bounded) for its reply and
returns the parsed object. Replies are plain dicts typed as ``TypedDict`` s; a plugin failure is
``{"ok": False, "error": ...}`` data, while a host that dies or hangs raises
:class:`GoHostError`. The wire schema is documented in ``tests/interop/README.md``.

Example::

    host = GoHost(go_binary("host"))
    try:
        started = host.start(goref_plugin_dir(tmp_path), "plutono-goref-datasource")
        assert started["ok"], started.get("error")
        reply = host.query([{"ref_id": "A", "json": {"amplitude": 2}}])
    finally:
        host.close()
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal, NotRequired, TypedDict, cast

from tests._tools import INTEROP, go_binary

GOREF_PLUGIN_ID = "plutono-goref-datasource"
GOREF_EXECUTABLE = "gpx_goref"


class GoHostError(Exception):
    """The host process itself failed: it exited, hung or wrote something unreadable."""


class Reply(TypedDict):
    """Fields every reply carries: ``ok``, and ``error`` when it is false."""

    ok: bool
    error: NotRequired[str]


class RPCReply(Reply):
    """Reply of a command that made a gRPC call; ``grpc_code`` is a Go code name."""

    elapsed_ms: NotRequired[float]
    grpc_code: NotRequired[str]
    grpc_message: NotRequired[str]
    unavailable: NotRequired[bool]


class StartReply(Reply):
    """``start``: time from ``Client()`` to a connected client, and the process id."""

    handshake_ms: float
    negotiated_version: int
    executable: str
    pid: int


class HealthReply(RPCReply):
    """``check_health``: status is ``OK``, ``ERROR`` or ``UNKNOWN``."""

    status: NotRequired[str]
    message: NotRequired[str]
    details_json: NotRequired[str]


class MetricsReply(RPCReply):
    """``metrics``: the plugin's Prometheus text."""

    prometheus: NotRequired[str]


class DataResponse(TypedDict):
    """One refId's answer: its error string and base64 Arrow frames."""

    error: str
    frames_base64: list[str]
    json_meta_base64: str


class QueryReply(RPCReply):
    """``query``: answers keyed by refId."""

    responses: NotRequired[dict[str, DataResponse]]


class Query(TypedDict, total=False):
    """A query as sent; absent numbers get Plutono's defaults (100 points, 1000 ms)."""

    ref_id: str
    query_type: str
    json: object
    json_text: str
    from_ms: int
    to_ms: int
    interval_ms: int
    max_data_points: int
    pad_bytes: int


class ResourceMessage(TypedDict):
    """One streamed ``CallResourceResponse`` and when it arrived (ms after the call began)."""

    code: int
    headers: dict[str, list[str]]
    body_base64: str
    received_ms: float


class ResourceReply(RPCReply):
    """``resource``: every streamed message in order."""

    messages: list[ResourceMessage]


class KillReply(Reply):
    """``kill``: ``graceful`` is false when go-plugin had to SIGKILL after 2 s."""

    elapsed_ms: float
    exited: bool
    graceful: bool


class ExitedReply(Reply):
    """``exited``: exit code and terminating signal name once the process is gone."""

    exited: bool
    started: bool
    exit_code: NotRequired[int]
    signal: NotRequired[str]


class RestartsReply(Reply):
    """``restarts``: how often the 1 s restart policy started the plugin again."""

    restarts: int
    errors: list[str]
    last_handshake_ms: float
    pid: int
    watching: bool


class LogRecord(TypedDict):
    """A record the host's logger received; ``logger`` is the executable name for plugin lines."""

    seq: int
    time_ms: int
    level: str
    logger: str
    message: str
    kv: dict[str, str]


class LogsReply(Reply):
    """``logs``: records newer than ``since`` and the newest sequence number."""

    records: list[LogRecord]
    last_seq: int


class JobReply(Reply):
    """Immediate reply of a command sent with ``background``."""

    job: int


def go_platform() -> tuple[str, str]:
    """GOOS and GOARCH of this machine, as Plutono's build would name them."""
    goos = {"linux": "linux", "darwin": "darwin", "win32": "windows"}.get(
        sys.platform, sys.platform
    )
    machine = platform.machine().lower()
    goarch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    return goos, goarch


def executable_file_name(executable: str) -> str:
    """File name Plutono executes for plugin.json's ``executable`` (contract 2.1)."""
    goos, goarch = go_platform()
    return f"{executable}_{goos}_{goarch}" + (".exe" if goos == "windows" else "")


def goref_plugin_dir(parent: Path) -> Path:
    """Assemble the Go reference plugin's directory under ``parent`` and return it."""
    binary = go_binary("goref")
    folder = parent / GOREF_PLUGIN_ID
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(INTEROP / "goref" / "plugin.json", folder / "plugin.json")
    target = folder / executable_file_name(GOREF_EXECUTABLE)
    if not target.exists():
        target.symlink_to(binary)
    return folder


def body_bytes(message: ResourceMessage) -> bytes:
    """Decoded body of one resource message."""
    return base64.b64decode(message["body_base64"])


def frames_bytes(response: DataResponse) -> list[bytes]:
    """Decoded Arrow IPC bytes of one refId's frames."""
    return [base64.b64decode(frame) for frame in response["frames_base64"]]


class GoHost:
    """One running host process; every method sends one command and returns its reply.

    ``env`` is added to the host's own environment, which go-plugin passes on to the plugin
    after Plutono's variables (contract 1.2 item 4); with ``inherit_env=False`` it is the
    whole environment (``env -i``). ``stderr_path`` receives the host's debugging output (each
    log record it gets), which helps when a test fails. ``wrapper`` is a command the host runs
    under (``unshare``/``setpriv``: another user, hidden directories).
    """

    def __init__(
        self,
        binary: Path,
        *,
        env: Mapping[str, str] | None = None,
        stderr_path: Path | None = None,
        cwd: Path | None = None,
        inherit_env: bool = True,
        wrapper: Sequence[str] = (),
    ) -> None:
        self._stderr: IO[bytes] | None = stderr_path.open("wb") if stderr_path else None
        self._process = subprocess.Popen(
            [*wrapper, str(binary)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr if self._stderr else subprocess.DEVNULL,
            env={**(os.environ if inherit_env else {}), **(env or {})},
            cwd=cwd,
        )
        self._ids = itertools.count(1)
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        self._closed = False

    def _read_stdout(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    @property
    def pid(self) -> int:
        """Process id of the host (not of the plugin)."""
        return self._process.pid

    def command(
        self, cmd: str, args: Mapping[str, object] | None = None, *, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Send ``{"cmd": cmd, **args}`` and return the reply, waiting at most ``timeout`` s."""
        if self._closed:
            raise GoHostError(f"cannot send {cmd!r}: the host is closed")
        request_id = next(self._ids)
        line = json.dumps({"cmd": cmd, "id": request_id, **(args or {})}) + "\n"
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(line.encode())
            self._process.stdin.flush()
        except BrokenPipeError as error:
            raise GoHostError(f"the host exited (code {self._process.poll()})") from error
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                raw = self._lines.get(timeout=max(remaining, 0.0))
            except queue.Empty:
                raise GoHostError(f"no reply to {cmd!r} within {timeout} s") from None
            if raw is None:
                raise GoHostError(f"the host exited during {cmd!r} (code {self._process.poll()})")
            try:
                reply = json.loads(raw)
            except json.JSONDecodeError as error:
                raise GoHostError(f"unreadable reply to {cmd!r}: {raw!r}") from error
            if reply.get("id") == request_id:
                reply.pop("id")
                return cast(dict[str, Any], reply)

    def start(
        self,
        plugin_dir: Path,
        plugin_id: str,
        *,
        settings: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        executable: Path | None = None,
        timeout: float = 70.0,
    ) -> StartReply:
        """Launch the plugin in ``plugin_dir`` like Plutono (the host waits up to 1 min).

        ``settings`` are ``[plugin.<id>]`` ini keys (sent as ``PL_PLUGIN_<KEY>``); ``env`` are
        extra variables placed before the host's own environment.
        """
        args: dict[str, object] = {"dir": str(plugin_dir), "plugin_id": plugin_id}
        if settings is not None:
            args["settings"] = dict(settings)
        if env is not None:
            args["env"] = dict(env)
        if executable is not None:
            args["executable"] = str(executable)
        return cast(StartReply, self.command("start", args, timeout=timeout))

    def ping(self) -> Reply:
        """go-plugin's ``Ping()``: grpc.health.v1 Check for service ``plugin``."""
        return cast(Reply, self.command("ping"))

    def check_health(self, plugin_context: Mapping[str, object] | None = None) -> HealthReply:
        """``Diagnostics/CheckHealth`` with the default or the given plugin context."""
        return cast(HealthReply, self.command("check_health", _context(plugin_context)))

    def metrics(self) -> MetricsReply:
        """``Diagnostics/CollectMetrics``."""
        return cast(MetricsReply, self.command("metrics"))

    def query(
        self,
        queries: Sequence[Query],
        *,
        plugin_context: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_ms: int | None = None,
        cancel_after_ms: int | None = None,
        timeout: float = 30.0,
    ) -> QueryReply:
        """``Data/QueryData``; ``timeout_ms`` sets a deadline, ``cancel_after_ms`` cancels."""
        args = _query_args(queries, plugin_context, headers, timeout_ms, cancel_after_ms)
        return cast(QueryReply, self.command("query", args, timeout=timeout))

    def query_in_background(
        self,
        queries: Sequence[Query],
        *,
        plugin_context: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_ms: int | None = None,
        cancel_after_ms: int | None = None,
    ) -> int:
        """Start a query without waiting; collect its :class:`QueryReply` with :meth:`wait`."""
        args = _query_args(queries, plugin_context, headers, timeout_ms, cancel_after_ms)
        reply = cast(JobReply, self.command("query", {**args, "background": True}))
        return reply["job"]

    def wait(self, job: int, timeout: float = 30.0) -> dict[str, Any]:
        """Reply of a background command (a :class:`GoHostError` if it is still running)."""
        reply = self.command(
            "wait", {"job": job, "timeout_ms": int(timeout * 1000)}, timeout=timeout + 5
        )
        if reply.get("pending"):
            raise GoHostError(f"background job {job} still running after {timeout} s")
        return reply

    def resource(
        self,
        path: str,
        *,
        method: str = "GET",
        url: str | None = None,
        headers: Mapping[str, Sequence[str]] | None = None,
        body: bytes = b"",
        plugin_context: Mapping[str, object] | None = None,
        timeout_ms: int | None = None,
        cancel_after_ms: int | None = None,
        timeout: float = 30.0,
    ) -> ResourceReply:
        """``Resource/CallResource``; ``path`` has no leading slash (contract 2.4.4)."""
        args: dict[str, object] = {
            "path": path,
            "method": method,
            "headers": {key: list(values) for key, values in (headers or {}).items()},
            "body_base64": base64.b64encode(body).decode(),
            **_context(plugin_context),
            **_timing(timeout_ms, cancel_after_ms),
        }
        if url is not None:
            args["url"] = url
        return cast(ResourceReply, self.command("resource", args, timeout=timeout))

    def kill(self, timeout: float = 30.0) -> KillReply:
        """go-plugin's ``Kill()``: Shutdown RPC, up to 2 s grace, then SIGKILL."""
        return cast(KillReply, self.command("kill", timeout=timeout))

    def signal(self, name: Literal["TERM", "INT", "KILL", "HUP", "QUIT"]) -> Reply:
        """Send a signal to the plugin process."""
        return cast(Reply, self.command("signal", {"name": name}))

    def exited(self) -> ExitedReply:
        """Whether go-plugin saw the plugin process exit, with its exit code or signal."""
        return cast(ExitedReply, self.command("exited"))

    def wait_exited(self, timeout: float = 10.0) -> ExitedReply:
        """Poll :meth:`exited` until the process is gone (``GoHostError`` after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            reply = self.exited()
            if reply["exited"]:
                return reply
            if time.monotonic() > deadline:
                raise GoHostError(f"the plugin did not exit within {timeout} s")
            time.sleep(0.05)

    def watch_restart(self, enable: bool = True) -> Reply:
        """Turn Plutono's restart policy (1 s ticker, restart when exited) on or off."""
        return cast(Reply, self.command("watch_restart", {"enable": enable}))

    def restarts(self) -> RestartsReply:
        """Restart count, errors and the last handshake time."""
        return cast(RestartsReply, self.command("restarts"))

    def logs(self, since: int = 0) -> LogsReply:
        """Log records the host received after sequence number ``since``."""
        return cast(LogsReply, self.command("logs", {"since": since}))

    def close(self, timeout: float = 10.0) -> None:
        """Stop the plugin (``quit`` = ``Kill()``) and the host; idempotent."""
        if self._closed:
            return
        try:
            if self._process.poll() is None:
                self.command("quit", timeout=timeout)
        except GoHostError:
            pass
        finally:
            self._closed = True
            if self._process.stdin is not None:
                self._process.stdin.close()
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._reader.join(timeout=timeout)
            if self._stderr is not None:
                self._stderr.close()


def _context(plugin_context: Mapping[str, object] | None) -> dict[str, object]:
    return {} if plugin_context is None else {"plugin_context": dict(plugin_context)}


def _timing(timeout_ms: int | None, cancel_after_ms: int | None) -> dict[str, object]:
    args: dict[str, object] = {}
    if timeout_ms is not None:
        args["timeout_ms"] = timeout_ms
    if cancel_after_ms is not None:
        args["cancel_after_ms"] = cancel_after_ms
    return args


def _query_args(
    queries: Sequence[Query],
    plugin_context: Mapping[str, object] | None,
    headers: Mapping[str, str] | None,
    timeout_ms: int | None,
    cancel_after_ms: int | None,
) -> dict[str, object]:
    return {
        "queries": [dict(query) for query in queries],
        "headers": dict(headers or {}),
        **_context(plugin_context),
        **_timing(timeout_ms, cancel_after_ms),
    }
