"""``plugin.GRPCStdio``: what the plugin printed after the handshake, streamed to the host."""

from __future__ import annotations

from typing import Any

import grpclib.const

from ..._proto import google, plugin
from ..stdio import StdioHub
from ..transport import receive_limited
from ._common import CONTROL_MESSAGE_LIMIT, Stream, handler

__all__ = ("StdioService",)


class StdioService:
    """StreamStdio: forward captured output until the host leaves (contract 1.10)."""

    def __init__(self, hub: StdioHub) -> None:
        self._hub = hub

    async def stream_stdio(self, stream: Stream) -> None:
        """Forward chunks as they come."""
        await receive_limited(stream, google.protobuf.Empty, CONTROL_MESSAGE_LIMIT)
        async for channel, data in self._hub.subscribe():
            await stream.send_message(plugin.StdioData(channel=channel, data=data))

    def __mapping__(self) -> dict[str, Any]:
        return {
            "/plugin.GRPCStdio/StreamStdio": handler(
                self.stream_stdio,
                grpclib.const.Cardinality.UNARY_STREAM,
                google.protobuf.Empty,
                plugin.StdioData,
            )
        }
