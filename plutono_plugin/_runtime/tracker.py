"""Every call in flight, counted: drained on shutdown, refused while draining, measured."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator

import anyio
from grpclib import GRPCError
from grpclib.const import Status

from .. import _metrics

__all__ = ("CallTracker",)

_log = logging.getLogger("plutono_plugin.server")


class CallTracker:
    """Counts calls in flight so shutdown can drain them; refuses new calls while draining."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.draining = False
        self._idle: anyio.Event | None = None  # created by drain(), set by the last call

    @contextlib.asynccontextmanager
    async def call(self, endpoint: str) -> AsyncIterator[None]:
        """Track one call of ``endpoint``; UNAVAILABLE once shutdown has begun."""
        if self.draining:
            _metrics.REQUESTS.labels(endpoint, Status.UNAVAILABLE.name).inc()
            raise GRPCError(Status.UNAVAILABLE, "the plugin is shutting down")
        self.in_flight += 1
        gauge = _metrics.REQUESTS_IN_FLIGHT.labels(endpoint)
        gauge.inc()
        started = time.perf_counter()
        status = Status.OK
        try:
            yield
        except GRPCError as error:
            status = error.status
            raise
        except anyio.get_cancelled_exc_class():
            status = Status.CANCELLED
            raise
        except Exception as error:
            status = Status.UNKNOWN
            _log.error("%s failed", endpoint, exc_info=error)
            raise GRPCError(Status.UNKNOWN, f"{type(error).__name__}: {error}") from None
        finally:
            gauge.dec()
            _metrics.REQUESTS.labels(endpoint, status.name).inc()
            _metrics.REQUEST_DURATION.labels(endpoint).observe(time.perf_counter() - started)
            self.in_flight -= 1
            if self.in_flight == 0 and self._idle is not None:
                self._idle.set()

    async def drain(self, grace: float) -> bool:
        """Stop taking calls and wait up to ``grace`` seconds for the running ones."""
        self.draining = True
        if self.in_flight:
            self._idle = self._idle or anyio.Event()
            with anyio.move_on_after(grace):
                await self._idle.wait()
        return self.in_flight == 0
