"""Well-formed ``UNIMPLEMENTED`` for the pluginv2 services a plugin has no handlers for (2.3)."""

from __future__ import annotations

from typing import Any

import grpclib.const
from grpclib import GRPCError
from grpclib.const import Status

from ._common import Stream, handler

__all__ = ("UnimplementedService",)


class UnimplementedService:
    """Answers ``UNIMPLEMENTED`` for pluginv2 methods the plugin has no handlers for.

    Plutono turns ``UNIMPLEMENTED`` into a proper answer (CallResource: 404, contract 2.3), but
    only when the status arrives well-formed: grpclib's built-in answer for an unknown method
    lacks ``content-type``, which grpc-go reports as ``Unknown`` (Plutono: HTTP 500).
    """

    def __init__(self, paths: list[tuple[str, grpclib.const.Cardinality, Any, Any]]) -> None:
        self._paths = paths

    async def unimplemented(self, stream: Stream) -> None:
        """Refuse the call with a well-formed status."""
        raise GRPCError(Status.UNIMPLEMENTED, "the plugin has no handlers for this service")

    def __mapping__(self) -> dict[str, Any]:
        return {
            path: handler(self.unimplemented, cardinality, request, reply)
            for path, cardinality, request, reply in self._paths
        }
