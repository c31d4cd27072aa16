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

import asyncio
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._host.client import (
    CallError,
    HealthReply,
    PluginClient,
    QueryReply,
    RawQueryReply,
    ResourceReply,
    target,
)
from ._host.process import PluginExitedError, PluginProcess, plugin_environment
from ._host.requests import default_context
from ._host.wire import (
    Handshake,
    LogRecord,
    PluginManifest,
    executable_path,
    read_manifest,
)
from .context import PluginContext
from .errors import ConfigurationError, HandshakeError

__all__ = (
    "CallError",
    "Handshake",
    "HealthReply",
    "LogRecord",
    "PluginExitedError",
    "PluginHost",
    "PluginManifest",
    "QueryReply",
    "RawQueryReply",
    "ResourceReply",
    "StopResult",
    "target",
)

RESTART_TICK_SECONDS = 1.0
"""Plutono checks every second whether a plugin exited, and starts it again (contract 1.13)."""

_log = logging.getLogger("plutono_plugin.host")


@dataclass(frozen=True, slots=True)
class StopResult:
    """How the plugin stopped: seconds taken, exit code, and whether it exited by itself."""

    seconds: float
    """Seconds from the start of :meth:`PluginHost.stop` until the process was gone."""
    exit_code: int | None
    """The process's exit code (negative: killed by that signal)."""
    graceful: bool
    """True when the plugin exited by itself within the grace period, without SIGKILL."""


class PluginHost(PluginClient):
    """A running plugin process and the gRPC channel to it.

    Create it with :meth:`start` (an async context manager) or :meth:`launch` (then call
    :meth:`stop`). A call the plugin answers with a gRPC error raises :class:`CallError`,
    except where Plutono itself turns ``UNIMPLEMENTED`` into an answer (health, metrics).

    Those two build it from the plugin's ``manifest`` (its ``plugin.json``), the running
    ``process``, the default ``context`` of calls, and ``relaunch``, which starts a fresh process
    when the plugin exits (``restart=True``; ``None``: no restarts).
    """

    def __init__(
        self,
        manifest: PluginManifest,
        process: PluginProcess,
        context: PluginContext,
        relaunch: Callable[[], Awaitable[PluginProcess]] | None = None,
    ) -> None:
        super().__init__(process.channel, context, process.problem)
        self.manifest = manifest
        self.restarts = 0
        """How often the plugin was started again after it exited (``restart=True``)."""
        self._process = process
        self._earlier_logs: list[LogRecord] = []
        self._earlier_problems: list[str] = []
        self._relaunch = relaunch
        self._restarted = asyncio.Event()
        self._watcher = asyncio.create_task(self._restart_exited()) if relaunch else None

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
        restart: bool = False,
        inherit_environment: bool = True,
    ) -> AsyncIterator[PluginHost]:
        """Launch the plugin, yield the host, and stop the plugin on exit.

        Example::

            async with PluginHost.start("build/plugins/quickstart", json_data={"x": 1}) as host:
                print(await host.collect_metrics())

        Args:
            plugin_dir: the plugin's directory: its ``plugin.json`` and the executable it
                names (``<executable>_<os>_<arch>``), as Plutono finds them.
            env: variables added to the environment Plutono itself would pass on.
            plugin_settings: the ini section ``[plugin.<id>]`` (sent as
                ``PL_PLUGIN_<KEY>``).
            json_data: the default datasource's (or app's) ``jsonData``.
            secure_json_data: the default datasource's (or app's) decrypted
                ``secureJsonData``.
            context: a whole :class:`~plutono_plugin.context.PluginContext` replacing the
                default one (then ``json_data``/``secure_json_data`` are not used).
            start_timeout: seconds the plugin may take to print its handshake line before
                :class:`HandshakeError` (with its stderr) is raised.
            cwd: the plugin's working directory (default: a fresh temporary directory,
                removed when the plugin stops).
            on_log: called with every log record the plugin writes.
            restart: start the plugin again when it exits, as Plutono does (every second, a
                clean exit too, contract 1.13): what a ``--dev`` build's hot reload relies on.
            inherit_environment: ``False`` leaves this process's environment out (only
                ``env`` and Plutono's own variables), as under a service manager.

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
            restart=restart,
            inherit_environment=inherit_environment,
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
        restart: bool = False,
        inherit_environment: bool = True,
    ) -> PluginHost:
        """Like :meth:`start`, without the context manager: call :meth:`stop` yourself.

        Launches the plugin in ``plugin_dir`` and returns once it has handshaken. The other
        parameters are those of :meth:`start`: ``env``, ``plugin_settings``, ``json_data``,
        ``secure_json_data``, ``context``, ``start_timeout``, ``cwd``, ``on_log``, ``restart``
        and ``inherit_environment``.
        """
        manifest = read_manifest(plugin_dir)
        if context is None:
            context = default_context(
                manifest.id,
                manifest.type,
                now_ms=int(time.time() * 1000),
                json_data=json_data,
                secure_json_data=secure_json_data,
            )
        environment = plugin_environment(
            manifest.id, plugin_settings=plugin_settings, env=env, inherit=inherit_environment
        )
        spawn = functools.partial(
            PluginProcess.spawn,
            executable_path(manifest),
            environment,
            cwd=cwd,
            start_timeout=start_timeout,
            on_log=on_log,
        )
        process = await spawn()
        return cls(manifest, process, context, spawn if restart else None)

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
        return [*self._earlier_logs, *self._process.logs]

    @property
    def problems(self) -> list[str]:
        """Things Plutono would handle badly: crashing log lines, stdout noise, bad statuses."""
        return [*self._earlier_problems, *self._process.problems]

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

        Raises :class:`TimeoutError` listing the messages seen when none arrives within
        ``timeout`` seconds.
        """
        return await self._process.wait_for_log(match, timeout=timeout)

    # -- calls -----------------------------------------------------------------------------------

    async def stop(self) -> StopResult:
        """Stop like go-plugin's ``Kill()``: ``Shutdown`` RPC, close, wait 2 s, then SIGKILL.

        Idempotent: later calls return the first result. Restarting ends first, as Plutono
        stops plugins only when it shuts down.
        """
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        seconds, code, graceful = await self._process.stop()
        return StopResult(seconds, code, graceful)

    async def wait_for_restarts(self, count: int, *, timeout: float | None = 30.0) -> None:  # noqa: ASYNC109
        """Wait until the plugin has been restarted ``count`` times (``restart=True``).

        Raises :class:`TimeoutError` when that does not happen within ``timeout`` seconds.
        """
        if self._relaunch is None:
            raise RuntimeError("the host was started without restart=True")
        async with asyncio.timeout(timeout):
            while self.restarts < count:
                self._restarted.clear()
                await self._restarted.wait()

    async def _restart_exited(self) -> None:
        assert self._relaunch is not None
        while True:
            # Plutono's manager polls on a ticker, so the restart comes 0-1 s after the exit.
            await asyncio.sleep(RESTART_TICK_SECONDS)
            if self._process.returncode is None:
                continue
            await self._process.stop()  # reaps readers and channel; at once for a dead process
            try:
                process = await self._relaunch()
            except (HandshakeError, ConfigurationError, OSError) as error:
                # Plutono logs "Failed to restart plugin" and tries again on the next tick.
                _log.warning("Failed to restart plugin: %s", error)
                continue
            self._earlier_logs.extend(self._process.logs)
            self._earlier_problems.extend(self._process.problems)
            self._process = process
            self.channel = process.channel
            self._on_problem = process.problem
            self.restarts += 1
            self._restarted.set()
