"""The adapter: one gRPC service a module, translating between the wire and the core.

==================  ===========================================================  ==========
module              service                                                      contract
==================  ===========================================================  ==========
``data``            ``pluginv2.Data`` (QueryData → the query router)             2.4.1, 5.4
``resource``        ``pluginv2.Resource`` (CallResource → the resource router)   2.4.4
``diagnostics``     ``pluginv2.Diagnostics`` (CheckHealth, CollectMetrics)       2.4.5, 2.4.6
``health``          ``grpc.health.v1.Health``                                    1.10
``controller``      ``plugin.GRPCController`` (Shutdown)                         1.12
``broker``          ``plugin.GRPCBroker``                                        1.10
``stdio``           ``plugin.GRPCStdio``                                         1.10
``unimplemented``   well-formed ``UNIMPLEMENTED`` for services without handlers  2.3
==================  ===========================================================  ==========

Each service declares its ``__mapping__`` itself (rather than subclassing the generated bases) so
every data-plane call passes through :class:`~plutono_plugin._runtime.tracker.CallTracker`:
draining on shutdown, in-flight counting, metrics. :func:`assemble` is the one place services,
codec and the plugin's lifespan are put together, for the process server and the in-memory
test client alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpclib.const

from ..._proto import pluginv2
from ..codec import LimitedProtoCodec
from ..stdio import StdioHub
from ..tracker import CallTracker
from .broker import BrokerService
from .controller import ControllerService
from .data import DataService
from .diagnostics import DiagnosticsService
from .health import HealthService
from .resource import ResourceService
from .stdio import StdioService
from .unimplemented import UnimplementedService

if TYPE_CHECKING:
    from ...plugin import Plugin
    from ...settings import Settings

__all__ = ("Assembly", "assemble", "build_services")


_QUERY_DATA = (
    "/pluginv2.Data/QueryData",
    grpclib.const.Cardinality.UNARY_UNARY,
    pluginv2.QueryDataRequest,
    pluginv2.QueryDataResponse,
)
_CALL_RESOURCE = (
    "/pluginv2.Resource/CallResource",
    grpclib.const.Cardinality.UNARY_STREAM,
    pluginv2.CallResourceRequest,
    pluginv2.CallResourceResponse,
)


def build_services(
    plugin: Plugin,
    settings: Settings,
    tracker: CallTracker,
    *,
    drain: Callable[[], Awaitable[None]],
    stdio: StdioHub,
) -> list[Any]:
    """The services to serve: Data/Resource only when the plugin has handlers (contract 2.3)."""
    services: list[Any] = [
        HealthService(),
        ControllerService(drain),
        BrokerService(),
        StdioService(stdio),
        DiagnosticsService(plugin, settings, tracker),
    ]
    missing: list[tuple[str, grpclib.const.Cardinality, Any, Any]] = []
    if plugin.queries:
        services.append(DataService(plugin, settings, tracker))
    else:
        missing.append(_QUERY_DATA)
    if plugin.resources:
        services.append(ResourceService(plugin, settings, tracker))
    else:
        missing.append(_CALL_RESOURCE)
    services.append(UnimplementedService(missing))
    return services


@dataclass(frozen=True)
class Assembly:
    """What a grpclib ``Server`` or in-memory ``ChannelFor`` serves for one plugin."""

    services: list[Any]
    codec: LimitedProtoCodec
    tracker: CallTracker


async def _no_drain() -> None:
    return None


@contextlib.asynccontextmanager
async def assemble(
    plugin: Plugin,
    settings: Settings,
    *,
    tracker: CallTracker | None = None,
    drain: Callable[[], Awaitable[None]] = _no_drain,
    stdio: StdioHub | None = None,
) -> AsyncIterator[Assembly]:
    """Run the plugin's lifespan around its services and codec.

    ``drain`` is what the host's Shutdown awaits before it is answered; the in-memory client
    has no process to stop and keeps the default.

    Example::

        async with assemble(plugin, settings) as served:
            server = grpclib.server.Server(served.services, codec=served.codec)
    """
    async with plugin.serving():
        yield Assembly(
            build_services(
                plugin,
                settings,
                tracker := tracker or CallTracker(),
                drain=drain,
                stdio=stdio or StdioHub(),
            ),
            LimitedProtoCodec(plugin.max_receive_message_size),
            tracker,
        )
