"""How the framework calls a handler: on the loop or in a worker thread, named, isolated.

* **Sync handlers.** A plain ``def`` handler runs in a worker thread (anyio's
  ``to_thread.run_sync``) limited by :class:`WorkerThreads`, so a blocking client library
  cannot freeze the event loop; a cancelled call stops waiting for its thread at once, and
  the thread keeps its slot until it really ends (threads stay bounded).
* **What is running.** :data:`RUNNING` maps each task to the handler it is running, so the
  loop-stall watchdog can name the culprit.
* **Log context.** :func:`log_fields` binds fields (refId, queryType, datasource, org,
  endpoint) to the current call through a context variable; the hclog formatter adds them to
  every record emitted while the call is served, without the handler doing anything.
* **Which exceptions escape.** :func:`is_cancellation` tells a real cancellation of the
  running task from a handler that merely raised ``CancelledError``; everything else a handler
  raises, ``BaseException`` included, becomes that call's error.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final

import anyio
import anyio.to_thread

__all__ = (
    "RUNNING",
    "WorkerThreads",
    "current_log_fields",
    "invoke",
    "is_cancellation",
    "log_fields",
)

_FIELDS: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "plutono_plugin_log_fields", default=MappingProxyType({})
)

_log = logging.getLogger("plutono_plugin.workers")

RUNNING: Final[dict[object, str]] = {}
"""asyncio task → description of the handler it is running (read by the watchdog thread)."""


def current_log_fields() -> Mapping[str, object]:
    """The fields bound to the call being served (empty outside a call)."""
    return _FIELDS.get()


@contextlib.contextmanager
def log_fields(**fields: object) -> Iterator[None]:
    """Add ``fields`` to every log record emitted inside the block (empty values skipped)."""
    merged = {**_FIELDS.get(), **{k: v for k, v in fields.items() if v not in (None, "")}}
    token = _FIELDS.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _FIELDS.reset(token)


def is_cancellation(error: BaseException) -> bool:
    """True if ``error`` is the running task being cancelled (it must propagate).

    A handler raising ``CancelledError`` itself, with nobody cancelling its task, is a failure
    of that handler like any other.
    """
    if not isinstance(error, anyio.get_cancelled_exc_class()):
        return False
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


class WorkerThreads:
    """The worker threads plain ``def`` handlers run in: at most ``limit`` at any time.

    A caller that is cancelled (the host gave up, a route timeout) stops waiting at once, but
    its thread cannot be stopped and runs to the end; its slot is freed only then, so
    ``limit`` bounds the threads really running handlers, abandoned ones included. A caller
    finding every slot taken waits for one (until its own deadline or cancellation); a
    warning says so when abandoned threads hold slots.
    """

    def __init__(self, limit: int = 16) -> None:
        if limit < 1:
            raise ValueError("the worker thread limit must be at least 1")
        self.limit = limit
        self.running = 0
        """Handler functions running in a worker thread now (callers waiting or gone)."""
        self.abandoned = 0
        """Of those, how many their caller stopped waiting for."""
        self._slots: asyncio.Semaphore | None = None
        self._pool: anyio.CapacityLimiter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warned = False

    async def run(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` in a worker thread; cancellation stops waiting for it at once."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._pool is None or self._loop is not loop:
            # Per event loop: an asyncio.Semaphore that once waited is bound to its loop, and
            # one plugin may serve several loops in turn (a test client per test).
            self._loop = loop
            self._slots = asyncio.Semaphore(self.limit)
            # anyio's own pool limit (40, shared by every to_thread user) must not bind first.
            self._pool = anyio.CapacityLimiter(self.limit)
            self.running = self.abandoned = 0
            self._warned = False
        slots = self._slots
        if slots.locked() and self.abandoned and not self._warned:
            self._warned = True
            _log.warning(
                "all %d worker threads for plain 'def' handlers are busy, %d of them with "
                "calls already given up; new calls wait for a thread to finish "
                "(max_sync_handlers)",
                self.limit,
                self.abandoned,
            )
        await slots.acquire()
        call = _ThreadCall()

        def release(abandoned: bool) -> None:
            self.running -= 1
            if abandoned:
                self.abandoned -= 1
            slots.release()
            if not slots.locked():
                self._warned = False

        def work() -> Any:
            with call.lock:
                if call.gone:  # the caller left before the thread started: never run it
                    return None
                call.started = True
            try:
                return function()
            finally:
                with call.lock:
                    call.finished = True
                    abandoned = call.gone
                with contextlib.suppress(RuntimeError):  # the loop is closed: process ending
                    loop.call_soon_threadsafe(release, abandoned)

        self.running += 1
        try:
            return await anyio.to_thread.run_sync(work, limiter=self._pool, abandon_on_cancel=True)
        except BaseException:
            with call.lock:
                call.gone = True
                started, finished = call.started, call.finished
            if not started:
                self.running -= 1
                slots.release()
            elif not finished:
                self.abandoned += 1  # the thread frees its slot when it really ends
            raise


class _ThreadCall:
    """What a caller and its worker thread agree on, under ``lock``."""

    __slots__ = ("finished", "gone", "lock", "started")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = False
        self.finished = False
        self.gone = False


async def invoke(
    handler: Callable[..., Any],
    arguments: Mapping[str, Any],
    *,
    is_async: bool,
    workers: WorkerThreads,
    description: str,
) -> Any:
    """Call ``handler`` with ``arguments``; a sync one in a worker thread."""
    task = asyncio.current_task()
    RUNNING[task] = description
    try:
        if is_async:
            return await handler(**arguments)
        return await workers.run(functools.partial(handler, **arguments))
    finally:
        RUNNING.pop(task, None)
