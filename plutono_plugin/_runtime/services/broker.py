"""``plugin.GRPCBroker``: accepted and idle, pluginv2 never brokers connections (1.10)."""

from __future__ import annotations

from typing import Any

import grpclib.const

from ..._proto import plugin
from ._common import Stream, handler

__all__ = ("BrokerService",)


class BrokerService:
    """The broker stream go-plugin's client opens on connect; nothing is ever brokered."""

    async def start_stream(self, stream: Stream) -> None:
        """Accept the stream and read it until the host leaves."""
        async for _ in stream:
            pass

    def __mapping__(self) -> dict[str, Any]:
        return {
            "/plugin.GRPCBroker/StartStream": handler(
                self.start_stream,
                grpclib.const.Cardinality.STREAM_STREAM,
                plugin.ConnInfo,
                plugin.ConnInfo,
            )
        }
