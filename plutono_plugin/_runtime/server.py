"""One plugin process's server: lifespan, listener, gRPC server, handshake, graceful stop.

Lifecycle: :meth:`PluginServer.start` → :meth:`~PluginServer.close` (idempotent) →
``await`` :meth:`~PluginServer.wait_closed`, or ``async with``. Stopping (Shutdown RPC, SIGTERM,
the host process gone) refuses new calls, lets in-flight ones finish within the grace period
(one drain, however the stop was asked for), cancels the rest, tears the lifespan down and
removes the socket (contract 1.12). The stop runs in the task that awaits
:meth:`~PluginServer.wait_closed`; the Shutdown RPC only asks for it and waits for the drain.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Final

import anyio
import grpclib.server

from .. import _metrics
from ..settings import Settings
from .handshake import Listener, open_listener, write_handshake
from .services import assemble
from .stdio import FdCapture, StdioHub
from .tracker import CallTracker
from .transport import PluginGrpcServer
from .watchdog import LoopWatchdog

if TYPE_CHECKING:
    from ..plugin import Plugin

__all__ = ("ORPHAN_GRACE_SECONDS", "PluginServer")

_log = logging.getLogger("plutono_plugin.server")

REPLY_FLUSH_SECONDS: Final = 0.01
"""After the drain, Shutdown's reply gets this long to leave before the connection closes
under it. The host ignores the reply (contract 1.12), so this is courtesy, kept short."""
SERVER_CLOSE_SECONDS: Final = 0.5
"""How long grpclib may take to close its connections once the calls are done or cancelled."""
ORPHAN_GRACE_SECONDS: Final = 0.2
"""Grace for in-flight calls when the host is gone: nobody is left to read their answers."""
STDOUT_READER_JOIN_SECONDS: Final = 0.2
"""How long the stdout reader thread may take to forward the last captured output."""


class PluginServer:
    """Serve a :class:`~plutono_plugin.plugin.Plugin` to the host over go-plugin's gRPC.

    Example::

        async with PluginServer(plugin, settings=Settings.from_environ()) as server:
            await server.wait_closed()  # until Shutdown, SIGTERM or close()
    """

    def __init__(
        self,
        plugin: Plugin,
        *,
        settings: Settings,
        environ: Mapping[str, str] | None = None,
        handshake_fd: int | None = 1,
        capture_stdout: bool = True,
        capture_stderr: bool | None = None,
        parent_pid: int | None = None,
        exit: Callable[[int], object] | None = None,
    ) -> None:
        self.plugin = plugin
        self.settings = settings
        self.tracker = CallTracker()
        self.listener: Listener | None = None
        self._environ = environ if environ is not None else {}
        self._handshake_fd = handshake_fd
        self._stdio = StdioHub()
        if capture_stderr is None:
            capture_stderr = capture_stdout
        self._captures = [
            FdCapture(fd, self._stdio.publish_threadsafe)
            for fd, wanted in ((1, capture_stdout), (2, capture_stderr))
            if wanted
        ]
        self._server: grpclib.server.Server | None = None
        self._lifespan: contextlib.AsyncExitStack | None = None
        self._stop_requested: anyio.Event | None = None
        self._drained: anyio.Event | None = None
        self._stopped: anyio.Event | None = None
        self._stopping = False
        self._grace = plugin.shutdown_grace
        # Always running: besides stall warnings (off when loop_stall_warning is None) it
        # notices the host's death and bounds a stop while a handler blocks the loop.
        self._watchdog = LoopWatchdog(
            plugin.loop_stall_warning,
            parent=parent_pid,
            on_parent_gone=lambda: self.close(grace=ORPHAN_GRACE_SECONDS),
            orphan_grace=ORPHAN_GRACE_SECONDS,
            exit=exit,
        )

    @property
    def address(self) -> str:
        """Where the server listens (socket path or ``127.0.0.1:port``)."""
        if self.listener is None:
            raise RuntimeError("the server is not started")
        return self.listener.address

    async def start(self) -> None:
        """Run the lifespan's set-up, listen, serve, then write the handshake line."""
        if self._server is not None:
            raise RuntimeError("the server is already started")
        self._stop_requested = anyio.Event()
        self._drained = anyio.Event()
        self._stopped = anyio.Event()
        self._stdio.bind()
        self._lifespan = contextlib.AsyncExitStack()
        served = await self._lifespan.enter_async_context(
            assemble(
                self.plugin,
                self.settings,
                tracker=self.tracker,
                drain=self.drain,
                stdio=self._stdio,
            )
        )
        try:
            self.listener = open_listener(self._environ, self.plugin.network)
            self._server = PluginGrpcServer(served.services, codec=served.codec)
            # The server is serving before the handshake line is written (contract 1.5).
            await self._server.start(sock=self.listener.sock)
        except BaseException:
            await self._teardown()
            raise
        if self._handshake_fd is not None:
            write_handshake(self.listener, self._handshake_fd)
            for capture in self._captures:
                capture.start()
        self._watchdog.start()
        # Off the start-up path: the host is already connecting while this imports.
        threading.Thread(target=_metrics.create, name="plutono-plugin-metrics", daemon=True).start()
        _log.debug(
            "plugin serving",
            extra={"network": self.listener.network, "address": self.listener.address},
        )

    async def drain(self) -> None:
        """Stop (as :meth:`close`) and return once in-flight calls are done or the grace is over.

        The Shutdown RPC answers only then, so the calls' responses reach the host before it
        closes the connection (contract 1.12).
        """
        if self._drained is None:
            raise RuntimeError("the server is not started")
        self.close()
        await self._drained.wait()

    def close(self, *, grace: float | None = None) -> None:
        """Ask the server to stop (idempotent); in-flight calls get ``grace`` seconds."""
        if grace is not None:
            self._grace = min(self._grace, grace)
        self._watchdog.stop_requested(self._grace)
        if self._stop_requested is not None:
            self._stop_requested.set()

    def stop_signalled(self) -> None:
        """A stop signal arrived: bound the stop even if the loop cannot run to begin it.

        Safe in a signal handler, which Python runs between two bytecodes of whatever the
        main thread executes — a handler blocking the loop included (watchdog module).
        """
        self._watchdog.stop_requested(self._grace)

    async def wait_closed(self) -> None:
        """Wait until the server has been asked to stop, has stopped and is torn down."""
        if self._stop_requested is None or self._drained is None or self._stopped is None:
            raise RuntimeError("the server is not started")
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        await self._stop_requested.wait()
        started = time.monotonic()
        # Once asked, the stop finishes even if this waiter is cancelled (a second SIGTERM
        # exits the process at once instead, runner).
        with anyio.CancelScope(shield=True):
            try:
                if not await self.tracker.drain(self._grace):
                    _log.warning(
                        "cancelling calls still running after the grace period",
                        extra={"in_flight": self.tracker.in_flight},
                    )
                self._drained.set()
                await anyio.sleep(REPLY_FLUSH_SECONDS)
                await self._teardown()
            finally:
                self._drained.set()
                self._stopped.set()
                _log.debug(
                    "plugin stopped",
                    extra={"stop_ms": round((time.monotonic() - started) * 1000, 1)},
                )

    async def _teardown(self) -> None:
        if self._server is not None:
            self._server.close()  # cancels whatever is still running
            with anyio.move_on_after(SERVER_CLOSE_SECONDS):
                await self._server.wait_closed()
        if self.listener is not None:
            self.listener.close()
        try:
            if self._lifespan is not None:
                await self._lifespan.aclose()
        finally:
            for capture in self._captures:
                capture.close()
            for capture in self._captures:
                capture.wait_closed(STDOUT_READER_JOIN_SECONDS)
            self._watchdog.close()  # last: a teardown blocking the loop is bounded too

    async def __aenter__(self) -> PluginServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
        await self.wait_closed()
