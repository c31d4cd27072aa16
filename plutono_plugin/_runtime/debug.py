"""Let a debugger attach to the plugin process the host started (debugpy, Debug Adapter Protocol).

Enabled by the ini section ``[plugin.<id>]`` (which reaches the plugin as ``PL_PLUGIN_<KEY>``,
contract 1.2) or by ``plutono-plugin host --debug``:

* ``debug = on`` (also ``1``, ``true``, ``yes``, ``listen``): listen, and serve at once;
* ``debug = wait``: listen and hold the handshake until a client attaches, at most
  ``debug_wait_seconds`` (default 50): go-plugin gives up on a plugin that has not written its
  handshake within 1 minute, and Plutono never retries a failed first start (contract 1.1, 1.8);
* ``debug_port = 5678`` (the default, VS Code's); ``0`` picks a free port.

The address is logged (``debugger listening on 127.0.0.1:<port>``) on stderr as hclog JSON;
stdout stays the handshake's (contract 1.6). The debug adapter runs inside the plugin process
(debugpy's ``in_process_debug_adapter``): a separate adapter process would hold the host's stderr
pipe open and delay the exit go-plugin waits for (contract 1.12). It listens on loopback only.
A problem (debugpy missing, port taken) is logged and the plugin serves without a debugger:
a typo in an ini file must not keep a datasource down.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ("DebugOptions", "debug_options", "start_debugger")

_log = logging.getLogger("plutono_plugin.debug")

DEFAULT_PORT: Final = 5678
"""debugpy's and VS Code's conventional port."""
DEFAULT_WAIT_SECONDS: Final = 50.0
"""Longest wait for a client: below go-plugin's 1 minute start timeout (contract 1.8)."""
LOOPBACK: Final = "127.0.0.1"
_LISTEN_SECONDS: Final = 5.0
_ON = frozenset(("1", "on", "true", "yes", "listen"))
_OFF = frozenset(("", "0", "off", "false", "no"))


@dataclass(frozen=True, slots=True)
class DebugOptions:
    """How the debugger listens: ``port`` (0 = any free one), and whether to ``wait``."""

    port: int = DEFAULT_PORT
    wait: bool = False
    wait_seconds: float = DEFAULT_WAIT_SECONDS


def debug_options(config: Mapping[str, str]) -> DebugOptions | None:
    """The options set by ``[plugin.<id>]`` keys (lower-cased), or ``None`` when debugging is off.

    Example::

        assert debug_options({"debug": "wait", "debug_port": "0"}) == DebugOptions(0, True)
        assert debug_options({}) is None
    """
    mode = config.get("debug", "").strip().lower()
    if mode in _OFF:
        return None
    if mode not in _ON and mode != "wait":
        _log.error(
            "unknown debug setting, expected on or wait: debugging stays off",
            extra={"debug": mode},
        )
        return None
    port, wait_seconds = DEFAULT_PORT, DEFAULT_WAIT_SECONDS
    try:
        port = int(config.get("debug_port", str(DEFAULT_PORT)))
        wait_seconds = float(config.get("debug_wait_seconds", str(DEFAULT_WAIT_SECONDS)))
        if not 0 <= port <= 65535 or not wait_seconds >= 0:
            raise ValueError("out of range")
    except ValueError:
        _log.error(
            "debug_port must be 0-65535 and debug_wait_seconds a number >= 0: using defaults",
            extra={"port": config.get("debug_port"), "wait": config.get("debug_wait_seconds")},
        )
        port, wait_seconds = DEFAULT_PORT, DEFAULT_WAIT_SECONDS
    return DebugOptions(port, mode == "wait", wait_seconds)


def start_debugger(options: DebugOptions) -> int | None:
    """Listen for a debugger on loopback (and wait if asked); return the port, ``None`` on failure.

    Called before the server starts, so that breakpoints in the lifespan are hit too.
    """
    # pydevd otherwise prints a multi-line warning about frozen modules on every start.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    try:
        import debugpy
    except ImportError:
        _log.error("debug is set but debugpy is not installed: pip install 'plutono-plugin[debug]'")
        return None
    try:
        port = _listen(debugpy, options.port)
    except Exception as error:  # OSError from the probe, RuntimeError or TimeoutError
        _log.error(
            "the debugger cannot listen, serving without it",
            extra={"port": options.port, "error": str(error) or type(error).__name__},
        )
        return None
    _log.info(
        f"debugger listening on {LOOPBACK}:{port}",
        extra={"address": f"{LOOPBACK}:{port}", "port": port, "wait": options.wait},
    )
    if options.wait:
        _wait_for_client(options.wait_seconds)
    return port


def _listen(debugpy: Any, port: int) -> int:
    if port:
        # debugpy's in-process adapter hangs for ever on a port in use instead of raising.
        # SO_REUSEADDR as debugpy: the previous process's connections (a hot reload) in
        # TIME_WAIT do not count, a listener does.
        with socket.socket() as probe:
            if os.name != "nt":
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((LOOPBACK, port))
    result: list[int] = []
    listener = threading.Thread(
        target=lambda: result.append(
            debugpy.listen((LOOPBACK, port), in_process_debug_adapter=True)[1]
        ),
        name="debugpy-listen",
        daemon=True,
    )
    listener.start()
    listener.join(_LISTEN_SECONDS)
    if not result:
        raise TimeoutError(f"debugpy did not listen within {_LISTEN_SECONDS:g} s")
    return int(result[0])


def _wait_for_client(seconds: float) -> None:
    import debugpy

    _log.info("waiting for a debugger to attach", extra={"timeout_seconds": seconds})
    waiter = threading.Thread(target=debugpy.wait_for_client, name="debugpy-wait", daemon=True)
    waiter.start()
    waiter.join(seconds)
    if waiter.is_alive():
        debugpy.wait_for_client.cancel()
        _log.warning(
            "no debugger attached in time, serving anyway (the host would give up at 1 minute)",
            extra={"timeout_seconds": seconds},
        )
    else:
        _log.info("debugger attached")
