"""The protobuf codec with the receive limit grpclib lacks (contract 5.2)."""

from __future__ import annotations

from typing import Any

from grpclib import GRPCError
from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec

from .._proto import pluginv2

__all__ = ("LimitedProtoCodec",)

_REQUEST_TYPES = frozenset(
    (
        pluginv2.QueryDataRequest,
        pluginv2.CallResourceRequest,
        pluginv2.CheckHealthRequest,
        pluginv2.CollectMetricsRequest,
    )
)


class LimitedProtoCodec(ProtoCodec):
    """Protobuf codec refusing requests above a size (grpclib has no receive limit of its own).

    The Go SDK's server accepts 16 MiB by default (contract 5.2). Only the plugin's request
    messages are limited, so the same codec can serve an in-memory client, whose responses
    stay unlimited.
    """

    def __init__(self, max_receive_message_size: int) -> None:
        self.max_receive_message_size = max_receive_message_size

    def decode(self, data: bytes, message_type: Any) -> Any:
        """Decode, or fail the call with RESOURCE_EXHAUSTED naming both sizes."""
        if len(data) > self.max_receive_message_size and message_type in _REQUEST_TYPES:
            raise GRPCError(
                Status.RESOURCE_EXHAUSTED,
                f"request of {len(data)} bytes exceeds the plugin's limit of "
                f"{self.max_receive_message_size} bytes (max_receive_message_size)",
            )
        return super().decode(data, message_type)
