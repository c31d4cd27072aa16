"""Loop-stall watchdog: say which handler blocks the event loop, and where.

An ``async def`` handler that calls something blocking (``time.sleep``, ``requests.get``, a
database driver without asyncio support) freezes every call of the process: health checks time
out, the host's Shutdown is not even read and the host SIGKILLs the plugin after 2 s (contract
1.12). Nothing in the loop can notice, since the loop is what is stuck; a thread can. The loop
beats every quarter of the threshold; when a thread sees no beat for longer than the threshold
it logs one warning per stall, naming the running handler and the loop thread's stack, and an
info record once the loop runs again. The fix is in the warning: make the handler a plain
``def`` (it then runs in a worker thread) or use an asyncio library.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from typing import Final

from .._calls import RUNNING

__all__ = ("LoopWatchdog",)

_log = logging.getLogger("plutono_plugin.watchdog")

STACK_FRAMES: Final = 12
"""Innermost frames of the loop thread's stack shown in the warning."""


class LoopWatchdog:
    """Warn when the running event loop is blocked longer than ``threshold`` seconds.

    ``start()`` (in the loop) → ``close()`` (idempotent, joins the thread).

    Example::

        watchdog = LoopWatchdog(0.5)
        watchdog.start()
        ...
        watchdog.close()
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._interval = max(threshold / 4, 0.005)
        self._last_beat = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._loop_thread = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stalls = 0
        """How many stalls were reported."""

    def start(self) -> None:
        """Begin beating in the running loop and watching from a daemon thread."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._beat()
        self._thread = threading.Thread(
            target=self._watch, name="plutono-plugin-watchdog", daemon=True
        )
        self._thread.start()

    def _beat(self) -> None:
        self._last_beat = time.monotonic()
        if self._loop is not None and not self._stop.is_set():
            self._handle = self._loop.call_later(self._interval, self._beat)

    def _watch(self) -> None:
        stalled_since: float | None = None
        while not self._stop.wait(self._interval):
            lag = time.monotonic() - self._last_beat - self._interval
            if lag > self.threshold and stalled_since is None:
                stalled_since = self._last_beat
                self.stalls += 1
                self._warn(lag)
            elif lag <= self.threshold and stalled_since is not None:
                _log.info(
                    "the event loop runs again after being blocked for %.2f s",
                    self._last_beat - stalled_since,
                )
                stalled_since = None

    def _warn(self, lag: float) -> None:
        task = asyncio.current_task(self._loop) if self._loop is not None else None
        handler = RUNNING.get(task) if task is not None else None
        frame = sys._current_frames().get(self._loop_thread)
        stack = "".join(traceback.format_stack(frame)[-STACK_FRAMES:]) if frame else ""
        _log.warning(
            "the event loop has been blocked for %.2f s by %s: every call of the plugin waits "
            "(health checks time out, Shutdown overruns). Make the handler a plain 'def' (it "
            "then runs in a worker thread) or use an asyncio library for the blocking call",
            lag,
            handler or "code outside any handler",
            extra={"blocked_s": round(lag, 3), "handler": handler or "", "stack": stack},
        )

    def close(self) -> None:
        """Stop beating and watching."""
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
        if self._thread is not None:
            self._thread.join(1.0)
