"""``grpc.health.v1.Health``: what go-plugin's client pings (contract 1.10)."""

from __future__ import annotations

from typing import Any

import anyio
import grpclib.const
from grpclib import GRPCError
from grpclib.const import Status

from ..._proto.grpc.health import v1 as health
from ._common import Stream, handler, receive

__all__ = ("HealthService",)


class HealthService:
    """``grpc.health.v1.Health``: ``plugin`` (and the server, ``""``) are SERVING (1.10)."""

    SERVICES = frozenset(("", "plugin"))

    async def check(self, stream: Stream) -> None:
        """SERVING for known services, NOT_FOUND otherwise (as grpc-go's health server)."""
        request = await receive(stream, health.HealthCheckRequest)
        if request.service not in self.SERVICES:
            raise GRPCError(Status.NOT_FOUND, f"unknown service {request.service!r}")
        serving = health.HealthCheckResponseServingStatus.SERVING
        await stream.send_message(health.HealthCheckResponse(status=serving))

    async def watch(self, stream: Stream) -> None:
        """Send the status once, then hold the stream until the client leaves."""
        request = await receive(stream, health.HealthCheckRequest)
        status = (
            health.HealthCheckResponseServingStatus.SERVING
            if request.service in self.SERVICES
            else health.HealthCheckResponseServingStatus.SERVICE_UNKNOWN
        )
        await stream.send_message(health.HealthCheckResponse(status=status))
        await anyio.sleep_forever()

    def __mapping__(self) -> dict[str, Any]:
        return {
            "/grpc.health.v1.Health/Check": handler(
                self.check,
                grpclib.const.Cardinality.UNARY_UNARY,
                health.HealthCheckRequest,
                health.HealthCheckResponse,
            ),
            "/grpc.health.v1.Health/Watch": handler(
                self.watch,
                grpclib.const.Cardinality.UNARY_STREAM,
                health.HealthCheckRequest,
                health.HealthCheckResponse,
            ),
        }
