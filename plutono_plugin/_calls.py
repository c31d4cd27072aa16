"""How the framework calls a handler: on the loop or in a worker thread, named, isolated.

* **Sync handlers.** A plain ``def`` handler runs in a worker thread (anyio's
  ``to_thread.run_sync``) limited by :class:`WorkerThreads`, so a blocking client library
  cannot freeze the event loop; a cancelled call stops waiting for its thread at once.
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
    """The worker threads plain ``def`` handlers run in, at most ``limit`` at once."""

    def __init__(self, limit: int = 16) -> None:
        if limit < 1:
            raise ValueError("the worker thread limit must be at least 1")
        self.limit = limit
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` in a worker thread; cancellation stops waiting for it at once."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.limit)
        return await anyio.to_thread.run_sync(
            function, limiter=self._limiter, abandon_on_cancel=True
        )


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
