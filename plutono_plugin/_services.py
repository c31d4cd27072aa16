"""The adapter: gRPC services that translate between the wire and the transport-free core.

This module and :mod:`plutono_plugin._server` are the only ones that import grpclib; with
:mod:`plutono_plugin._convert` they are the only ones that touch the generated ``_proto`` code.
Each service declares its ``__mapping__`` itself (rather than subclassing the generated bases) so
every call passes through :class:`CallTracker`: draining on shutdown, in-flight counting, metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any, TypeVar

import anyio
import grpclib.const
import grpclib.server
from grpclib import GRPCError
from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec

from . import _metrics
from ._convert import plugin_context_from_proto, time_from_epoch_ms
from ._headers import Headers
from ._proto import google, plugin, pluginv2
from ._proto.grpc.health import v1 as health
from .context import RequestContext
from .diagnostics import HealthStatus, collect_metrics, run_health_check
from .errors import InstanceError
from .plugin import Plugin
from .query import Query, QueryResponse, TimeRange, encode_response
from .resource import ResourceRequest, ResourceResponse
from .settings import Settings

__all__ = ("CallTracker", "LimitedProtoCodec", "build_services")

_log = logging.getLogger("plutono_plugin.server")

Stream = grpclib.server.Stream[Any, Any]


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


class CallTracker:
    """Counts calls in flight so shutdown can drain them; refuses new calls while draining."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def call(self, endpoint: str) -> AsyncIterator[None]:
        """Track one call of ``endpoint``; UNAVAILABLE once shutdown has begun."""
        if self.draining:
            _metrics.REQUESTS.labels(endpoint, Status.UNAVAILABLE.name).inc()
            raise GRPCError(Status.UNAVAILABLE, "the plugin is shutting down")
        self.in_flight += 1
        self._idle.clear()
        gauge = _metrics.REQUESTS_IN_FLIGHT.labels(endpoint)
        gauge.inc()
        started = time.perf_counter()
        status = Status.OK
        try:
            yield
        except GRPCError as error:
            status = error.status
            raise
        except asyncio.CancelledError:
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
            if self.in_flight == 0:
                self._idle.set()

    async def drain(self, grace: float) -> bool:
        """Stop taking calls and wait up to ``grace`` seconds for the running ones."""
        self.draining = True
        with anyio.move_on_after(grace):
            await self._idle.wait()
        return self.in_flight == 0


T = TypeVar("T")


async def _receive(stream: Stream, message_type: type[T]) -> T:
    """The single request message of a unary or server-streaming call."""
    message = await stream.recv_message()
    if not isinstance(message, message_type):
        raise GRPCError(Status.INVALID_ARGUMENT, "the request carried no message")
    return message


def _handler(method: Callable[[Stream], Any], cardinality: Any, request: Any, reply: Any) -> Any:
    return grpclib.const.Handler(method, cardinality, request, reply)


class _Core:
    """What the data-plane services share: the plugin, settings and the call tracker."""

    def __init__(self, plugin: Plugin, settings: Settings, tracker: CallTracker) -> None:
        self.plugin = plugin
        self.settings = settings
        self.tracker = tracker

    @contextlib.asynccontextmanager
    async def context(
        self, message: pluginv2.PluginContext | None, headers: Mapping[str, str]
    ) -> AsyncIterator[RequestContext]:
        """The call's :class:`RequestContext`, holding its instance for the whole call."""
        plugin_context = plugin_context_from_proto(message)
        frozen_headers = MappingProxyType(dict(headers))
        manager = self.plugin.instances
        if manager is None:
            yield RequestContext(plugin_context, frozen_headers, self.settings)
            return
        async with manager.acquire(plugin_context) as instance:
            yield RequestContext(plugin_context, frozen_headers, self.settings, instance)


def _query_from_proto(message: pluginv2.DataQuery) -> Query:
    span = message.time_range
    start = time_from_epoch_ms(span.from_epoch_ms if span else 0)
    end = time_from_epoch_ms(span.to_epoch_ms if span else 0)
    return Query(
        ref_id=message.ref_id,
        query_type=message.query_type,
        time_range=TimeRange(start, end),
        interval=timedelta(milliseconds=message.interval_ms),
        max_data_points=message.max_data_points,
        raw_json=bytes(message.json),
    )


class DataService(_Core):
    """``pluginv2.Data``: QueryData → :class:`~plutono_plugin.query.QueryRouter`."""

    async def query_data(self, stream: Stream) -> None:
        """Answer every refId; per-query failures go into that refId's ``error`` (contract 5.4)."""
        request = await _receive(stream, pluginv2.QueryDataRequest)
        async with self.tracker.call("queryData"):
            queries = [_query_from_proto(query) for query in request.queries]
            try:
                async with self.context(request.plugin_context, request.headers) as context:
                    results = await self.plugin.queries.dispatch(queries, context)
            except InstanceError as error:
                results = {query.ref_id: QueryResponse.failure(error.message) for query in queries}
            responses: dict[str, pluginv2.DataResponse] = {}
            for ref_id, response in results.items():
                frames, message = encode_response(response)
                responses[ref_id] = pluginv2.DataResponse(frames=frames, error=message)
            await stream.send_message(pluginv2.QueryDataResponse(responses=responses))

    def __mapping__(self) -> dict[str, Any]:
        return {
            "/pluginv2.Data/QueryData": _handler(
                self.query_data,
                grpclib.const.Cardinality.UNARY_UNARY,
                pluginv2.QueryDataRequest,
                pluginv2.QueryDataResponse,
            )
        }


def _resource_message(response: ResourceResponse, body: bytes) -> pluginv2.CallResourceResponse:
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.items():
        headers.setdefault(name, []).append(value)
    return pluginv2.CallResourceResponse(
        code=response.status,
        headers={name: pluginv2.StringList(values=values) for name, values in headers.items()},
        body=body,
    )


class ResourceService(_Core):
    """``pluginv2.Resource``: CallResource → :class:`~plutono_plugin.resource.ResourceRouter`."""

    async def call_resource(self, stream: Stream) -> None:
        """Status and headers go in the first message only, later ones carry body chunks (2.4.4)."""
        request = await _receive(stream, pluginv2.CallResourceRequest)
        async with self.tracker.call("callResource"):
            headers = Headers(
                [(k, v) for k, values in request.headers.items() for v in values.values]
            )
            try:
                async with self.context(request.plugin_context, {}) as context:
                    resource_request = ResourceRequest(
                        method=request.method,
                        path=request.path,
                        url=request.url,
                        headers=headers,
                        body=bytes(request.body),
                        context=context,
                    )
                    response = await self.plugin.resources.dispatch(resource_request)
                    await self._send(stream, response)
            except InstanceError as error:
                failure = ResourceResponse.json({"error": error.message}, status=500)
                await stream.send_message(_resource_message(failure, bytes(failure.body)))  # type: ignore[arg-type]

    @staticmethod
    async def _send(stream: Stream, response: ResourceResponse) -> None:
        first = True
        try:
            async for chunk in response.iter_chunks():
                if first:
                    await stream.send_message(_resource_message(response, chunk))
                    first = False
                elif chunk:
                    await stream.send_message(pluginv2.CallResourceResponse(body=chunk))
        finally:
            await response.aclose()
        if first:  # an empty stream still owes the host its status (contract 2.4.4)
            await stream.send_message(_resource_message(response, b""))

    def __mapping__(self) -> dict[str, Any]:
        return {
            "/pluginv2.Resource/CallResource": _handler(
                self.call_resource,
                grpclib.const.Cardinality.UNARY_STREAM,
                pluginv2.CallResourceRequest,
                pluginv2.CallResourceResponse,
            )
        }


class DiagnosticsService(_Core):
    """``pluginv2.Diagnostics``: CheckHealth and CollectMetrics; always registered (5.1)."""

    async def check_health(self, stream: Stream) -> None:
        """Run the health check; an instance that cannot be built is an ERROR result."""
        request = await _receive(stream, pluginv2.CheckHealthRequest)
        async with self.tracker.call("checkHealth"):
            try:
                async with self.context(request.plugin_context, {}) as context:
                    result = await run_health_check(self.plugin.health_check, context)
                status, message, details = result.status, result.message, result.json_details
            except InstanceError as error:
                status, message, details = HealthStatus.ERROR, error.message, b""
            await stream.send_message(
                pluginv2.CheckHealthResponse(
                    status=pluginv2.CheckHealthResponseHealthStatus(int(status)),
                    message=message,
                    json_details=details,
                )
            )

    async def collect_metrics(self, stream: Stream) -> None:
        """Prometheus text of the process (contract 2.4.6)."""
        await stream.recv_message()
        async with self.tracker.call("collectMetrics"):
            manager = self.plugin.instances
            _metrics.INSTANCES.set(manager.live if manager is not None else 0)
            payload = pluginv2.CollectMetricsResponsePayload(prometheus=collect_metrics())
            await stream.send_message(pluginv2.CollectMetricsResponse(metrics=payload))

    def __mapping__(self) -> dict[str, Any]:
        unary = grpclib.const.Cardinality.UNARY_UNARY
        return {
            "/pluginv2.Diagnostics/CheckHealth": _handler(
                self.check_health,
                unary,
                pluginv2.CheckHealthRequest,
                pluginv2.CheckHealthResponse,
            ),
            "/pluginv2.Diagnostics/CollectMetrics": _handler(
                self.collect_metrics,
                unary,
                pluginv2.CollectMetricsRequest,
                pluginv2.CollectMetricsResponse,
            ),
        }


class HealthService:
    """``grpc.health.v1.Health``: ``plugin`` (and the server, ``""``) are SERVING (1.10)."""

    SERVICES = frozenset(("", "plugin"))

    async def check(self, stream: Stream) -> None:
        """SERVING for known services, NOT_FOUND otherwise (as grpc-go's health server)."""
        request = await _receive(stream, health.HealthCheckRequest)
        if request.service not in self.SERVICES:
            raise GRPCError(Status.NOT_FOUND, f"unknown service {request.service!r}")
        serving = health.HealthCheckResponseServingStatus.SERVING
        await stream.send_message(health.HealthCheckResponse(status=serving))

    async def watch(self, stream: Stream) -> None:
        """Send the status once, then hold the stream until the client leaves."""
        request = await _receive(stream, health.HealthCheckRequest)
        status = (
            health.HealthCheckResponseServingStatus.SERVING
            if request.service in self.SERVICES
            else health.HealthCheckResponseServingStatus.SERVICE_UNKNOWN
        )
        await stream.send_message(health.HealthCheckResponse(status=status))
        await asyncio.Event().wait()

    def __mapping__(self) -> dict[str, Any]:
        return {
            "/grpc.health.v1.Health/Check": _handler(
                self.check,
                grpclib.const.Cardinality.UNARY_UNARY,
                health.HealthCheckRequest,
                health.HealthCheckResponse,
            ),
            "/grpc.health.v1.Health/Watch": _handler(
                self.watch,
                grpclib.const.Cardinality.UNARY_STREAM,
                health.HealthCheckRequest,
                health.HealthCheckResponse,
            ),
        }


class GoPluginServices:
    """go-plugin's own services: controller, broker and stdio (contract 1.10)."""

    def __init__(self, shutdown: Callable[[], Any], stdio: StdioHub) -> None:
        self._shutdown = shutdown
        self._stdio = stdio

    async def shutdown(self, stream: Stream) -> None:
        """Drain in-flight calls, then answer: the host closes the connection on our reply."""
        await stream.recv_message()
        # Answering only after the drain is what lets in-flight calls deliver their responses:
        # the host's Kill() closes the connection as soon as Shutdown returns (contract 1.12).
        await self._shutdown()
        await stream.send_message(plugin.Empty())

    async def start_stream(self, stream: Stream) -> None:
        """Accept the broker stream and idle: pluginv2 never brokers connections (1.10)."""
        async for _ in stream:
            pass

    async def stream_stdio(self, stream: Stream) -> None:
        """Forward what the plugin printed after the handshake until the host leaves."""
        await stream.recv_message()
        async for channel, data in self._stdio.subscribe():
            await stream.send_message(plugin.StdioData(channel=channel, data=data))

    def __mapping__(self) -> dict[str, Any]:
        return {
            "/plugin.GRPCController/Shutdown": _handler(
                self.shutdown,
                grpclib.const.Cardinality.UNARY_UNARY,
                plugin.Empty,
                plugin.Empty,
            ),
            "/plugin.GRPCBroker/StartStream": _handler(
                self.start_stream,
                grpclib.const.Cardinality.STREAM_STREAM,
                plugin.ConnInfo,
                plugin.ConnInfo,
            ),
            "/plugin.GRPCStdio/StreamStdio": _handler(
                self.stream_stdio,
                grpclib.const.Cardinality.UNARY_STREAM,
                google.protobuf.Empty,
                plugin.StdioData,
            ),
        }


class StdioHub:
    """Fans captured stdout chunks out to StreamStdio subscribers (bounded; drops when full)."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[tuple[plugin.StdioDataChannel, bytes]]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the loop that threads publish into."""
        self._loop = loop

    def publish_threadsafe(self, data: bytes) -> None:
        """Called by the stdout reader thread."""
        if self._loop is not None and self._queues:
            self._loop.call_soon_threadsafe(self._publish, data)

    def _publish(self, data: bytes) -> None:
        for queue in self._queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((plugin.StdioDataChannel.STDOUT, data))

    async def subscribe(self) -> AsyncIterator[tuple[plugin.StdioDataChannel, bytes]]:
        """Chunks as they come, until cancelled."""
        queue: asyncio.Queue[tuple[plugin.StdioDataChannel, bytes]] = asyncio.Queue(256)
        self._queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)


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
            path: _handler(self.unimplemented, cardinality, request, reply)
            for path, cardinality, request, reply in self._paths
        }


def build_services(
    plugin_: Plugin,
    settings: Settings,
    tracker: CallTracker,
    *,
    shutdown: Callable[[], Any],
    stdio: StdioHub,
) -> list[Any]:
    """The services to serve: Data/Resource only when the plugin has handlers (contract 2.3)."""
    services: list[Any] = [
        HealthService(),
        GoPluginServices(shutdown, stdio),
        DiagnosticsService(plugin_, settings, tracker),
    ]
    missing: list[tuple[str, grpclib.const.Cardinality, Any, Any]] = []
    if plugin_.queries:
        services.append(DataService(plugin_, settings, tracker))
    else:
        missing.append(
            (
                "/pluginv2.Data/QueryData",
                grpclib.const.Cardinality.UNARY_UNARY,
                pluginv2.QueryDataRequest,
                pluginv2.QueryDataResponse,
            )
        )
    if plugin_.resources.routes:
        services.append(ResourceService(plugin_, settings, tracker))
    else:
        missing.append(
            (
                "/pluginv2.Resource/CallResource",
                grpclib.const.Cardinality.UNARY_STREAM,
                pluginv2.CallResourceRequest,
                pluginv2.CallResourceResponse,
            )
        )
    services.append(UnimplementedService(missing))
    return services
