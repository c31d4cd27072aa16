"""Run a plugin as the process the host started: checks, logging, signals, parent watch.

Order matters (contract 1.3-1.6): the cookie and version checks come first and need nothing but
the environment; logging goes to the host's stderr; the server starts and writes the handshake;
then the process waits for Shutdown, SIGTERM or the host's death and exits 0.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Mapping
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import anyio

from ..errors import HandshakeError
from ..settings import Settings
from .debug import debug_options, start_debugger
from .handshake import check_cookie, negotiate_version
from .hclog import configure_logging
from .memtrace import start_memtrace
from .reload import reload_on_change
from .server import PluginServer

if TYPE_CHECKING:
    from ..plugin import Plugin

__all__ = ("check_host", "exit_process", "run_plugin")

_log = logging.getLogger("plutono_plugin.server")

FORCED_EXIT_CODE = 128 + signal.SIGTERM
"""Exit status after a second SIGTERM (the conventional "killed by SIGTERM" status)."""


def check_host(environ: Mapping[str, str]) -> int | None:
    """Exit status if the process was not started by a compatible host, else ``None``.

    Writes go-plugin's texts to stderr (contract 1.3, 1.4).
    """
    notes: list[str] = []
    try:
        check_cookie(environ)
        negotiate_version(environ, notes)
    except HandshakeError as error:
        sys.stderr.write(error.exit_text)
        sys.stderr.flush()
        return 1
    for note in notes:
        sys.stderr.write(note + "\n")
    return None


def exit_process(status: int) -> NoReturn:
    """End the plugin process at once, once serving is over and everything is torn down.

    The lifespan, instances, listener and socket directory are already closed; interpreter
    finalisation would only tear down modules (pyarrow, numpy: tens of milliseconds of the
    host's 2 s budget, contract 1.12). Log records are flushed first. Under a profiler or a
    coverage tracer the interpreter exits normally, so they can write their reports.
    """
    if sys.getprofile() is not None or sys.gettrace() is not None:
        raise SystemExit(status)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


def _force_exit(status: int) -> NoReturn:
    """End the process from any thread or a signal handler, even under a tracer."""
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    os._exit(status)


def run_plugin(plugin: Plugin, environ: Mapping[str, str] | None = None) -> int:
    """Serve ``plugin`` until the host stops it; return the process exit status."""
    env = os.environ if environ is None else environ
    status = check_host(env)
    if status is not None:
        return status
    settings = Settings.from_environ(env)
    configure_logging(settings.log_level)
    start_memtrace(env)  # leak hunts only (make bench): off unless its variable is set
    debugging = debug_options(settings.plugin_config)
    if debugging is not None:
        start_debugger(debugging)
    return anyio.run(_serve, plugin, settings, env, backend="asyncio")


async def _serve(plugin: Plugin, settings: Settings, environ: Mapping[str, str]) -> int:
    # The watchdog thread watches the host's pid: go-plugin never signals a plugin whose host
    # died (a SIGKILLed host runs no Kill()); re-parenting is the reliable sign on POSIX, and a
    # thread sees it even while a handler blocks the loop.
    server = PluginServer(
        plugin, settings=settings, environ=environ, parent_pid=os.getppid(), exit=_force_exit
    )
    async with anyio.create_task_group() as group:
        group.start_soon(_watch_signals, server)
        try:
            await server.start()
        except Exception:
            _log.exception("plugin failed to start")
            group.cancel_scope.cancel()
            return 1
        # Everything imported and built so far lives as long as the process: keep it out of the
        # collector's generations so full collections stay cheap while serving (~4 % per call).
        gc.freeze()
        group.start_soon(reload_on_change, server, settings.plugin_config)
        await server.wait_closed()
        group.cancel_scope.cancel()
    return 0


def _notice_sigterm_in_any_case(server: PluginServer) -> None:
    """Chain a Python-level SIGTERM handler before the loop's own (which only wakes the loop).

    Python runs it in the main thread between two bytecodes — also inside a handler blocking
    the loop — so the watchdog bounds the stop even when the loop never gets to begin it; a
    second SIGTERM there exits at once, as the loop would.
    """
    previous = signal.getsignal(signal.SIGTERM)
    seen = 0

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        nonlocal seen
        seen += 1
        if seen > 1:
            _force_exit(FORCED_EXIT_CODE)
        server.stop_signalled()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


async def _watch_signals(server: PluginServer) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        _notice_sigterm_in_any_case(server)
        terminating = False
        async for signum in signals:
            if signum == signal.SIGINT:
                # The host orchestrates shutdown; a terminal's Ctrl-C reaches the whole process
                # group, the plugin included (contract 1.1, 1.10).
                _log.debug("plugin received interrupt signal, ignoring")
            elif not terminating:
                terminating = True
                _log.info("plugin received SIGTERM, stopping")
                server.close()
            else:
                _log.warning("second SIGTERM: exiting at once")
                logging.shutdown()
                os._exit(FORCED_EXIT_CODE)
