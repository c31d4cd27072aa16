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
from .._calls import is_cancellation, log_fields
from .._proto import pluginv2
from ..errors import describe_exception

__all__ = ("CallTracker",)

_log = logging.getLogger("plutono_plugin.server")


class CallTracker:
    """Counts calls in flight so shutdown can drain them; refuses new calls while draining."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.draining = False
        self._idle: anyio.Event | None = None  # created by drain(), set by the last call

    @contextlib.asynccontextmanager
    async def call(
        self, endpoint: str, plugin_context: pluginv2.PluginContext | None = None
    ) -> AsyncIterator[None]:
        """Track one call of ``endpoint``; UNAVAILABLE once shutdown has begun.

        Every log record emitted during the call carries the endpoint, org and datasource.
        """
        if self.draining:
            _metrics.REQUESTS.labels(endpoint, Status.UNAVAILABLE.name).inc()
            raise GRPCError(Status.UNAVAILABLE, "the plugin is shutting down")
        self.in_flight += 1
        gauge = _metrics.REQUESTS_IN_FLIGHT.labels(endpoint)
        gauge.inc()
        started = time.perf_counter()
        status = Status.OK
        try:
            with log_fields(endpoint=endpoint, **_context_fields(plugin_context)):
                yield
        except GRPCError as error:
            status = error.status
            raise
        except BaseException as error:  # SystemExit too: this call fails, the process serves on
            if is_cancellation(error):
                status = Status.CANCELLED
                raise
            status = Status.UNKNOWN
            _log.error("%s failed", endpoint, exc_info=error)
            raise GRPCError(Status.UNKNOWN, describe_exception(error)) from None
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


def _context_fields(message: pluginv2.PluginContext | None) -> dict[str, object]:
    if message is None:
        return {}
    # No pluginId: Plutono's log wrapper adds it to every plugin record already (contract 1.11).
    fields: dict[str, object] = {"orgId": message.org_id or None}
    settings = message.data_source_instance_settings
    if settings is not None:
        fields.update(datasourceId=settings.id, datasourceUid=settings.uid)
    return fields
