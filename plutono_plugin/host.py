"""The dev host: run a built plugin directory the way Plutono does, and call it.

:class:`PluginHost` launches the executable named by ``plugin.json`` exactly as Plutono 7.5 and
go-plugin v1.4.0 do (contract 1.1-1.2: ``<executable>_<os>_<arch>``, no arguments, Plutono's
environment plus the magic cookie, a working directory that is *not* the plugin directory),
reads the handshake, connects with grpclib and offers the calls Plutono makes: health, metrics,
queries and resources, then stops the plugin like ``Kill()`` (contract 1.12). It is both the
engine of ``plutono-plugin host`` and a test helper for plugin authors::

    from plutono_plugin.host import PluginHost

    async def test_sine_query() -> None:
        async with PluginHost.start("build/plugins/quickstart") as host:
            assert (await host.check_health()).status == "OK"
            frames, error = (await host.query({"refId": "A", "queryType": "sine"}))["A"]
            assert error == "" and len(frames) == 1

Everything the plugin logs on stderr is parsed like go-plugin does and kept in
:attr:`PluginHost.logs`; anything Plutono would choke on (a log line that would crash it, stdout
noise after the handshake, a resource status Go cannot write) is listed in
:attr:`PluginHost.problems`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ._host_process import PluginExitedError, PluginProcess, plugin_environment
from ._host_proto import DEFAULT_TIME_RANGE, TimeLike, data_query, default_context
from ._host_proto import plugin_context_to_proto as _context_to_proto
from ._host_wire import (
    Handshake,
    LogRecord,
    PluginManifest,
    executable_path,
    parse_handshake,
    parse_log_line,
    read_manifest,
)
from .context import AppSettings, DataSourceSettings, PluginContext, Secrets
from .errors import HandshakeError

if TYPE_CHECKING:
    from .frame import Frame

__all__ = (
    "Handshake",
    "HandshakeError",
    "HealthResult",
    "LogRecord",
    "PluginExitedError",
    "PluginHost",
    "PluginManifest",
    "QueryResponse",
    "RawQueryResponse",
    "ResourceResponse",
    "StopResult",
    "executable_path",
    "main",
    "parse_handshake",
    "parse_log_line",
    "plugin_environment",
    "read_manifest",
    "target",
)


def target(ref_id: str = "A", *, query_type: str = "", **model: Any) -> dict[str, Any]:
    """A frontend target built from keywords: ``target("B", query_type="sine", amplitude=2)``.

    Keys go into the query JSON unchanged (use the frontend's camelCase names).
    """
    return {"refId": ref_id, "queryType": query_type, **model}


@dataclass(frozen=True, slots=True)
class HealthResult:
    """What ``CheckHealth`` answered; Plutono answers HTTP 200 only for ``OK`` (contract 2.4.5)."""

    status: str
    message: str
    details: dict[str, Any]

    @property
    def ok(self) -> bool:
        """True when the status is ``OK`` (the "Save & Test" button turns green)."""
        return self.status == "OK"


class RawQueryResponse(NamedTuple):
    """One refId's ``DataResponse`` as sent: Arrow frame bytes, error text, JSON meta bytes."""

    frames: list[bytes]
    error: str
    json_meta: bytes


class QueryResponse(NamedTuple):
    """One refId's answer with decoded frames: ``frames, error = response``."""

    frames: list[Frame]
    error: str


@dataclass(frozen=True, slots=True)
class ResourceResponse:
    """A ``CallResource`` answer: status and headers from the first message (contract 2.4.4).

    ``chunks`` are the bodies of the individual messages (Plutono flushes each one to the
    client); ``body`` is their concatenation. ``status`` 0 with no chunks means the plugin
    sent no message at all.
    """

    status: int
    headers: dict[str, list[str]]
    body: bytes
    chunks: list[bytes]

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class StopResult:
    """How the plugin stopped: seconds taken, exit code, and whether it exited by itself."""

    seconds: float
    exit_code: int | None
    graceful: bool


class PluginHost:
    """A running plugin process and the gRPC channel to it.

    Create it with :meth:`start` (an async context manager) or :meth:`launch` (then call
    :meth:`stop`). gRPC errors of a call propagate as ``grpclib.exceptions.GRPCError``, except
    where Plutono itself turns ``UNIMPLEMENTED`` into an answer (health, metrics).
    """

    def __init__(
        self, manifest: PluginManifest, process: PluginProcess, context: PluginContext
    ) -> None:
        self.manifest = manifest
        self.default_context = context
        self._process = process

    @classmethod
    @asynccontextmanager
    async def start(
        cls,
        plugin_dir: str | os.PathLike[str],
        *,
        env: Mapping[str, str] | None = None,
        plugin_settings: Mapping[str, str] | None = None,
        json_data: Mapping[str, Any] | None = None,
        secure_json_data: Mapping[str, str] | None = None,
        context: PluginContext | None = None,
        start_timeout: float = 60.0,
        cwd: str | os.PathLike[str] | None = None,
        on_log: Callable[[LogRecord], None] | None = None,
    ) -> AsyncIterator[PluginHost]:
        """Launch the plugin, yield the host, and stop the plugin on exit.

        ``plugin_settings`` is the ini section ``[plugin.<id>]`` (sent as ``PL_PLUGIN_<KEY>``),
        ``env`` adds to the environment Plutono itself would pass on; ``json_data`` and
        ``secure_json_data`` fill the default datasource (or app) settings, ``context``
        replaces the default context entirely. ``on_log`` sees every plugin log record.

        Example::

            async with PluginHost.start("build/plugins/quickstart", json_data={"x": 1}) as host:
                print(await host.collect_metrics())
        """
        host = await cls.launch(
            plugin_dir,
            env=env,
            plugin_settings=plugin_settings,
            json_data=json_data,
            secure_json_data=secure_json_data,
            context=context,
            start_timeout=start_timeout,
            cwd=cwd,
            on_log=on_log,
        )
        try:
            yield host
        finally:
            await host.stop()

    @classmethod
    async def launch(
        cls,
        plugin_dir: str | os.PathLike[str],
        *,
        env: Mapping[str, str] | None = None,
        plugin_settings: Mapping[str, str] | None = None,
        json_data: Mapping[str, Any] | None = None,
        secure_json_data: Mapping[str, str] | None = None,
        context: PluginContext | None = None,
        start_timeout: float = 60.0,
        cwd: str | os.PathLike[str] | None = None,
        on_log: Callable[[LogRecord], None] | None = None,
    ) -> PluginHost:
        """Like :meth:`start`, without the context manager: call :meth:`stop` yourself."""
        manifest = read_manifest(plugin_dir)
        if context is None:
            context = _configured_context(manifest, json_data, secure_json_data)
        environment = plugin_environment(manifest.id, plugin_settings=plugin_settings, env=env)
        process = await PluginProcess.spawn(
            executable_path(manifest),
            environment,
            cwd=cwd,
            start_timeout=start_timeout,
            on_log=on_log,
        )
        return cls(manifest, process, context)

    # -- what the process tells us -------------------------------------------------------------

    @property
    def handshake(self) -> Handshake:
        """The parsed handshake line."""
        return self._process.handshake

    @property
    def handshake_seconds(self) -> float:
        """Seconds from exec to the handshake line."""
        return self._process.handshake_seconds

    @property
    def logs(self) -> list[LogRecord]:
        """Every log record read from the plugin's stderr (and its stdio stream) so far."""
        return self._process.logs

    @property
    def problems(self) -> list[str]:
        """Things Plutono would handle badly: crashing log lines, stdout noise, bad statuses."""
        return self._process.problems

    @property
    def executable(self) -> Path:
        """The file that was executed (``<executable>_<os>_<arch>``)."""
        return self._process.executable

    @property
    def cwd(self) -> str:
        """The plugin's working directory (a fresh temporary one unless given)."""
        return self._process.cwd

    @property
    def environment(self) -> dict[str, str]:
        """The environment the plugin was started with."""
        return self._process.environment

    @property
    def returncode(self) -> int | None:
        """The exit code, or ``None`` while the plugin runs (negative: killed by signal)."""
        return self._process.returncode

    async def wait_for_log(
        self,
        match: str | Callable[[LogRecord], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 -- the error lists the records seen
    ) -> LogRecord:
        """The first log record whose message contains ``match`` (or satisfies it), waiting.

        Raises :class:`TimeoutError` listing the messages seen when none arrives in time.
        """
        return await self._process.wait_for_log(match, timeout=timeout)

    # -- calls -----------------------------------------------------------------------------------

    def _context(self, context: PluginContext | None) -> Any:
        return _context_to_proto(context or self.default_context)

    async def ping(self) -> bool:
        """go-plugin's ``Ping``: ``grpc.health.v1.Health/Check`` for service "plugin" serves."""
        from ._proto.grpc.health.v1 import (
            HealthCheckRequest,
            HealthCheckResponseServingStatus,
            HealthStub,
        )

        stub = HealthStub(self._process.channel)
        reply = await stub.check(HealthCheckRequest(service="plugin"))
        return bool(reply.status == HealthCheckResponseServingStatus.SERVING)

    async def check_health(self, *, context: PluginContext | None = None) -> HealthResult:
        """``CheckHealth`` with a datasource (or app) context, as "Save & Test" sends it.

        ``UNIMPLEMENTED`` becomes ``UNKNOWN`` / "Health check not implemented", as in Plutono.
        """
        from grpclib.const import Status
        from grpclib.exceptions import GRPCError

        from ._proto import pluginv2

        stub = pluginv2.DiagnosticsStub(self._process.channel)
        request = pluginv2.CheckHealthRequest(plugin_context=self._context(context))
        try:
            reply = await stub.check_health(request)
        except GRPCError as error:
            if error.status is Status.UNIMPLEMENTED:
                return HealthResult("UNKNOWN", "Health check not implemented", {})
            raise
        details: Any = {}
        if reply.json_details:
            details = json.loads(reply.json_details)
            if not isinstance(details, dict):
                raise ValueError(
                    "CheckHealth jsonDetails must be a JSON object; Plutono answers HTTP 500 "
                    f"'Failed to unmarshal detailed response' for {reply.json_details[:100]!r}"
                )
        return HealthResult(reply.status.name or "UNKNOWN", reply.message, details)

    async def collect_metrics(self) -> str:
        """``CollectMetrics``: the Prometheus text the plugin exposes ("" if unimplemented)."""
        from grpclib.const import Status
        from grpclib.exceptions import GRPCError

        from ._proto import pluginv2

        stub = pluginv2.DiagnosticsStub(self._process.channel)
        try:
            reply = await stub.collect_metrics(pluginv2.CollectMetricsRequest())
        except GRPCError as error:
            if error.status is Status.UNIMPLEMENTED:
                return ""
            raise
        if reply.metrics is None:
            return ""
        return reply.metrics.prometheus.decode("utf-8", errors="replace")

    async def query_raw(
        self,
        *queries: Mapping[str, Any],
        context: PluginContext | None = None,
        headers: Mapping[str, str] | None = None,
        time_range: tuple[TimeLike, TimeLike] | None = None,
    ) -> dict[str, RawQueryResponse]:
        """``QueryData`` for frontend targets; frames stay Arrow bytes (see :meth:`query`)."""
        from ._proto import pluginv2

        if not queries:
            raise ValueError("no queries: Plutono answers 400 'No queries found in query'")
        plugin_context = context or self.default_context
        datasource_id = plugin_context.datasource.id if plugin_context.datasource else None
        span = time_range or DEFAULT_TIME_RANGE
        request = pluginv2.QueryDataRequest(
            plugin_context=_context_to_proto(plugin_context),
            headers=dict(headers or {}),
            queries=[data_query(query, span, datasource_id=datasource_id) for query in queries],
        )
        reply = await pluginv2.DataStub(self._process.channel).query_data(request)
        return {
            ref_id: RawQueryResponse(list(response.frames), response.error, response.json_meta)
            for ref_id, response in reply.responses.items()
        }

    async def query(
        self,
        *queries: Mapping[str, Any],
        context: PluginContext | None = None,
        headers: Mapping[str, str] | None = None,
        time_range: tuple[TimeLike, TimeLike] | None = None,
    ) -> dict[str, QueryResponse]:
        """``QueryData`` for frontend targets, answering ``{refId: (frames, error)}``.

        A target is the JSON the panel editor keeps (``{"refId": "A", "queryType": "sine",
        ...}``, see :func:`target`), optionally with ``from``/``to``; ``time_range`` defaults
        to ``("now-6h", "now")``. Frames are decoded with :meth:`Frame.decode`.
        """
        from .frame import Frame

        raw = await self.query_raw(
            *queries, context=context, headers=headers, time_range=time_range
        )
        return {
            ref_id: QueryResponse([Frame.decode(data) for data in response.frames], response.error)
            for ref_id, response in raw.items()
        }

    async def call_resource(
        self,
        method: str,
        path: str,
        *,
        body: bytes | str = b"",
        headers: Mapping[str, str | Sequence[str]] | None = None,
        context: PluginContext | None = None,
    ) -> ResourceResponse:
        """``CallResource`` as for ``/api/datasources/1/resources/<path>`` (contract 2.4.4).

        ``path`` may carry a query string (``"search?q=x"``); the leading slash is dropped as
        Plutono does. Use canonical header names (``Content-Type``).
        """
        from ._proto import pluginv2

        relative = path.lstrip("/")
        request = pluginv2.CallResourceRequest(
            plugin_context=self._context(context),
            path=relative.partition("?")[0],
            method=method.upper(),
            url=relative,
            headers={
                key: pluginv2.StringList([value] if isinstance(value, str) else list(value))
                for key, value in (headers or {}).items()
            },
            body=body.encode() if isinstance(body, str) else body,
        )
        messages = [
            message
            async for message in pluginv2.ResourceStub(self._process.channel).call_resource(request)
        ]
        if not messages:
            return ResourceResponse(0, {}, b"", [])
        first = messages[0]
        if not 100 <= first.code <= 999:
            self._process.problem(
                f"resource {method} {relative!r} answered status {first.code}: Go's net/http "
                "panics on it and Plutono crashes; send a valid HTTP status (contract 2.4.4)"
            )
        chunks = [message.body for message in messages]
        return ResourceResponse(
            first.code,
            {key: list(values.values) for key, values in first.headers.items()},
            b"".join(chunks),
            chunks,
        )

    async def stop(self) -> StopResult:
        """Stop like go-plugin's ``Kill()``: ``Shutdown`` RPC, close, wait 2 s, then SIGKILL.

        Idempotent: later calls return the first result.
        """
        seconds, code, graceful = await self._process.stop()
        return StopResult(seconds, code, graceful)


def _configured_context(
    manifest: PluginManifest,
    json_data: Mapping[str, Any] | None,
    secure_json_data: Mapping[str, str] | None,
) -> PluginContext:
    context = default_context(manifest.id, manifest.type, now_ms=int(time.time() * 1000))
    raw = json.dumps(dict(json_data or {})).encode()
    secrets = Secrets(secure_json_data or {})
    if context.datasource is not None:
        settings = context.datasource
        datasource = DataSourceSettings(
            id=settings.id,
            name=settings.name,
            raw_json_data=raw,
            decrypted_secure_json_data=secrets,
            last_updated_ms=settings.last_updated_ms,
        )
        return PluginContext(context.org_id, context.plugin_id, context.user, datasource=datasource)
    app = AppSettings(raw, secrets, context.app.last_updated_ms if context.app else 0)
    return PluginContext(context.org_id, context.plugin_id, context.user, app=app)


def main(argv: list[str]) -> int:
    """Run ``plutono-plugin host <plugin-dir> <command> ...``; ``argv`` excludes ``host``.

    Example::

        main(["build/plugins/quickstart", "demo"])
    """
    from ._host_cli import run

    return run(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
