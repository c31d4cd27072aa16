"""What the service modules share: the stream type, request reading, the per-call context."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeVar

import grpclib.const
import grpclib.server
from grpclib import GRPCError
from grpclib.const import Status

from ..._proto import pluginv2
from ...context import NO_INSTANCE, RequestContext
from ..convert import plugin_context_from_proto
from ..tracker import CallTracker
from ..transport import receive_limited

if TYPE_CHECKING:
    from ...plugin import Plugin
    from ...settings import Settings

__all__ = ("CONTROL_MESSAGE_LIMIT", "Core", "Stream", "handler", "receive")

Stream = grpclib.server.Stream[Any, Any]

T = TypeVar("T")


CONTROL_MESSAGE_LIMIT: Final = 64 * 1024
"""Largest request the control-plane services (Shutdown, StreamStdio, ...) read: all Empty."""


async def receive(stream: Stream, message_type: type[T], limit: int = CONTROL_MESSAGE_LIMIT) -> T:
    """The single request message of a unary or server-streaming call.

    An announced size above ``limit`` is refused before the body is read (transport module).
    """
    message = await receive_limited(stream, message_type, limit)
    if not isinstance(message, message_type):
        raise GRPCError(Status.INVALID_ARGUMENT, "the request carried no message")
    return message


def handler(method: Callable[[Stream], Any], cardinality: Any, request: Any, reply: Any) -> Any:
    return grpclib.const.Handler(method, cardinality, request, reply)


class Core:
    """What the data-plane services share: the plugin, settings and the call tracker."""

    def __init__(self, plugin: Plugin, settings: Settings, tracker: CallTracker) -> None:
        self.plugin = plugin
        self.settings = settings
        self.tracker = tracker

    @contextlib.asynccontextmanager
    async def context(
        self, message: pluginv2.PluginContext | None, headers: Mapping[str, str]
    ) -> AsyncIterator[RequestContext]:
        """The call's :class:`RequestContext`, holding its instance for the whole call.

        Typed options that do not fit raise :class:`~plutono_plugin.options.OptionsError` (an
        ``InstanceError``: the caller reports it as for a failed instance).
        """
        plugin_context = plugin_context_from_proto(message)
        frozen_headers = MappingProxyType(dict(headers))
        decoder = self.plugin.options
        options = decoder.decode(plugin_context.datasource) if decoder is not None else None
        manager = self.plugin.instances
        if manager is None:
            yield RequestContext(
                plugin_context, frozen_headers, self.settings, NO_INSTANCE, options
            )
            return
        async with manager.acquire(plugin_context, options) as instance:
            yield RequestContext(plugin_context, frozen_headers, self.settings, instance, options)
