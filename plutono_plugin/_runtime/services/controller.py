"""``plugin.GRPCController``: the host's Shutdown, answered after the drain (contract 1.12)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpclib.const

from ..._proto import plugin
from ..transport import receive_limited
from ._common import CONTROL_MESSAGE_LIMIT, Stream, handler

__all__ = ("ControllerService",)


class ControllerService:
    """Shutdown: drain in-flight calls, then answer; the host closes the connection on it."""

    def __init__(self, drain: Callable[[], Awaitable[None]]) -> None:
        self._drain = drain

    async def shutdown(self, stream: Stream) -> None:
        """Drain in-flight calls, then answer."""
        await receive_limited(stream, plugin.Empty, CONTROL_MESSAGE_LIMIT)
        # Answering only after the drain is what lets in-flight calls deliver their responses:
        # the host's Kill() closes the connection as soon as Shutdown returns (contract 1.12).
        await self._drain()
        await stream.send_message(plugin.Empty())

    def __mapping__(self) -> dict[str, Any]:
        return {
            "/plugin.GRPCController/Shutdown": handler(
                self.shutdown,
                grpclib.const.Cardinality.UNARY_UNARY,
                plugin.Empty,
                plugin.Empty,
            )
        }
