"""Loop watchdog: say what blocks the event loop, and end a stop the blocked loop cannot finish.

An ``async def`` handler that calls something blocking (``time.sleep``, ``requests.get``, a
database driver without asyncio support) freezes every call of the process: health checks time
out, the host's Shutdown is not even read (contract 1.12). Nothing in the loop can notice, since
the loop is what is stuck; a thread can. The loop beats every quarter of the threshold (at
most :data:`IDLE_INTERVAL` apart, so a long threshold does not slow the host watch); the
watchdog thread

* **warns** once per stall longer than the threshold, naming the running handler and the loop
  thread's stack — or the module being imported when the stall is a module's first import
  (``pyarrow.compute``: the cure is importing it at start-up, not a plain ``def``) — and logs
  an info record once the loop runs again;
* **watches the host**: the parent pid changing means the host is gone (go-plugin never
  signals an orphan), which the thread notices even while the loop is blocked;
* **bounds a stop**: once a stop was asked (SIGTERM — seen by the signal handler even while a
  handler blocks the loop, between two bytecodes or at an interrupted sleep —, the host gone,
  or the stop the loop itself began), the process must be gone ``grace`` +
  :data:`EXIT_OVERRUN_SECONDS` later. If the loop is still blocked then, the thread logs what
  blocks it and ends the process (status :data:`BLOCKED_EXIT_CODE`).

What it cannot do: a Shutdown RPC arriving while the loop is blocked is not read until the
loop runs again (nothing else reads the connection), and the host waits for its answer without
a deadline; and a signal reaches Python code only between bytecodes, so a handler blocked
inside one C call (a socket read without a timeout) delays even the SIGTERM notice until that
call returns. The warning is how the author finds such a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import logging
import os
import sys
import threading
import time
import tokenize
import traceback
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Final

from .._calls import RUNNING

__all__ = ("BLOCKED_EXIT_CODE", "EXIT_OVERRUN_SECONDS", "LoopWatchdog", "format_stack", "importing")

_log = logging.getLogger("plutono_plugin.watchdog")

STACK_FRAMES: Final = 12
"""Innermost frames of the loop thread's stack shown in the warning."""
EXIT_OVERRUN_SECONDS: Final = 0.2
"""How long after the grace period a stop may take while the loop is blocked."""
BLOCKED_EXIT_CODE: Final = 3
"""Exit status when the watchdog ends a stop the blocked loop could not finish."""
IDLE_INTERVAL: Final = 0.1
"""Longest check interval: with stall warnings off or a long threshold, the host's death
and an overrunning stop are still seen within it."""


def format_stack(frame: FrameType | None, limit: int = STACK_FRAMES) -> str:
    """The innermost ``limit`` frames from ``frame`` outwards, formatted as a traceback.

    The frames are summarised here, and their source lines read here, rather than through
    :mod:`linecache` (``StackSummary.extract`` registers every module's file with it even
    without looking lines up): the cache would keep each file a stall ever passed through for
    the process's life, a growing allocation site in ``make bench``'s leak hunt on a busy
    machine (issue #17).
    """
    if frame is None:  # walk_stack(None) would walk the caller's own stack
        return ""
    frames = [
        traceback.FrameSummary(
            each.f_code.co_filename,
            lineno,
            each.f_code.co_name,
            lookup_line=False,
            line=_source_line(each, lineno),
        )
        for each, lineno in itertools.islice(traceback.walk_stack(frame), limit)
    ]
    frames.reverse()
    return "".join(traceback.StackSummary.from_list(frames).format())


def _source_line(frame: FrameType, lineno: int | None) -> str:
    if not lineno:
        return ""
    try:
        with tokenize.open(frame.f_code.co_filename) as source:  # honours a coding cookie
            return _line_of(source, lineno)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        pass  # not a file: a module imported from a zip has its loader's source
    loader = frame.f_globals.get("__loader__")
    get_source = getattr(loader, "get_source", None)
    try:
        text = get_source(frame.f_globals.get("__name__")) if get_source else None
    except Exception:  # a loader may fail any way; the frame then shows without its line
        text = None
    return _line_of(io.StringIO(text), lineno) if isinstance(text, str) else ""


def _line_of(lines: Iterable[str], lineno: int) -> str:
    for number, line in enumerate(lines, 1):
        if number == lineno:
            return line.strip()
    return ""


def importing(frame: FrameType | None) -> str | None:
    """The module whose first import runs in ``frame``'s stack (outermost), if any."""
    name: str | None = None
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_find_and_load" and code.co_filename.startswith("<frozen importlib"):
            found = frame.f_locals.get("name")
            name = found if isinstance(found, str) else name
        frame = frame.f_back
    return name


class LoopWatchdog:
    """Watch the running event loop from a thread (see the module docstring).

    ``start()`` (in the loop) → ``close()`` (idempotent, joins the thread). ``threshold`` is
    the stall warning in seconds (``None``: no warnings); ``parent`` the host's pid, with
    ``on_parent_gone`` called in the loop when it changes (and the stop bounded by
    ``orphan_grace``); ``exit`` ends the process when a
    stop overruns (``None``: only logged, for servers inside a test process).

    Example::

        watchdog = LoopWatchdog(0.5)
        watchdog.start()
        ...
        watchdog.close()
    """

    def __init__(
        self,
        threshold: float | None,
        *,
        parent: int | None = None,
        on_parent_gone: Callable[[], object] | None = None,
        orphan_grace: float = 0.2,
        exit: Callable[[int], object] | None = None,
    ) -> None:
        self.threshold = threshold
        # Capped: the same thread watches the host's pid (docs/runtime.md: noticed within 0.15 s).
        quarter = max(threshold / 4, 0.005) if threshold is not None else IDLE_INTERVAL
        self._interval = min(quarter, IDLE_INTERVAL)
        self._last_beat = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._loop_thread = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._parent = parent
        self._on_parent_gone = on_parent_gone
        self._orphan_grace = orphan_grace
        self._exit = exit
        self._deadline: float | None = None
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

    def stop_requested(self, grace: float) -> None:
        """A stop was asked: the process must be gone ``grace`` + the overrun from now.

        Safe from any thread and from a signal handler (it only stores a number); an earlier
        deadline is kept.
        """
        deadline = time.monotonic() + grace + EXIT_OVERRUN_SECONDS
        current = self._deadline
        if current is None or deadline < current:
            self._deadline = deadline

    def _beat(self) -> None:
        self._last_beat = time.monotonic()
        if self._loop is not None and not self._stop.is_set():
            self._handle = self._loop.call_later(self._interval, self._beat)

    def _watch(self) -> None:
        stalled_since: float | None = None
        while not self._stop.wait(self._interval):
            now = time.monotonic()
            lag = now - self._last_beat - self._interval
            if self._parent is not None and os.getppid() != self._parent:
                self._parent_gone()
            deadline = self._deadline
            if deadline is not None and now > deadline and lag > self._interval:
                self._overrun(lag)
            if self.threshold is None:
                continue
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

    def _parent_gone(self) -> None:
        parent, self._parent = self._parent, None
        _log.warning("the host process is gone, stopping", extra={"host_pid": parent})
        self.stop_requested(self._orphan_grace)  # bounded even if the loop is blocked
        if self._on_parent_gone is not None and self._loop is not None:
            # RuntimeError: the loop is closed, the process is ending anyway.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._on_parent_gone)

    def _culprit(self) -> tuple[str, str, str | None]:
        task = asyncio.current_task(self._loop) if self._loop is not None else None
        handler = RUNNING.get(task) if task is not None else None
        frame = sys._current_frames().get(self._loop_thread)
        return handler or "", format_stack(frame), importing(frame)

    def _warn(self, lag: float) -> None:
        handler, stack, module = self._culprit()
        fields = {"blocked_s": round(lag, 3), "handler": handler, "stack": stack}
        if module is not None:
            _log.warning(
                "the event loop has been blocked for %.2f s importing %r for the first time "
                "(in %s): every call of the plugin waits meanwhile. Import the module at start-up "
                "(at module level or in the plugin's lifespan) so the first call does not pay",
                lag,
                module,
                handler or "code outside any handler",
                extra={**fields, "importing": module},
            )
            return
        _log.warning(
            "the event loop has been blocked for %.2f s by %s: every call of the plugin waits "
            "(health checks time out, Shutdown overruns). Make the handler a plain 'def' (it "
            "then runs in a worker thread) or use an asyncio library for the blocking call",
            lag,
            handler or "code outside any handler",
            extra=fields,
        )

    def _overrun(self, lag: float) -> None:
        handler, stack, _ = self._culprit()
        _log.error(
            "exiting: the plugin was asked to stop but the event loop has been blocked for "
            "%.2f s by %s, past the grace period",
            lag,
            handler or "code outside any handler",
            extra={"blocked_s": round(lag, 3), "handler": handler, "stack": stack},
        )
        self._deadline = None  # once
        if self._exit is not None:
            self._exit(BLOCKED_EXIT_CODE)

    def close(self) -> None:
        """Stop beating and watching."""
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(1.0)
