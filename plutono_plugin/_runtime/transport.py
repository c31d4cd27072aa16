"""grpclib, hardened against what a hostile or careless host does (issue #11).

Two gaps of grpclib 0.4 are closed here, where the transport is, so the services stay plain:

* **Streams of calls cancelled before they started stay registered forever.** grpclib spawns
  one task per call and releases the stream in that task's ``finally``. When the host resets
  the stream (Plutono cancels an RPC whenever a browser tab goes away, contract 2.4.4, 2.6)
  before the task first runs, the task is cancelled without ever entering its ``try``, and the
  stream, its buffers and events (~3 KB) leak. :class:`PluginGrpcServer` releases the stream
  from the task's done callback as well (once).
* **A request is read whole before any limit applies.** grpclib's ``recv_message`` reads the
  5-byte gRPC prefix and then the whole announced message, acknowledging HTTP/2 flow control
  as it goes, so a 200 MB request is buffered before the codec could refuse it.
  :func:`receive_limited` reads the prefix, refuses an announced length above the limit at
  once (RESOURCE_EXHAUSTED), and only then reads the body (contract 5.2: the Go SDK's server
  refuses above 16 MiB).

A third gap: on every connection-level WINDOW_UPDATE grpclib wakes every stream of the
connection, and each whose own window is spent goes back to sleep; a client leaving dozens of
streamed bodies unread kept the loop busy doing that. :func:`_wake_writable_streams` wakes only
the streams that can send.

And two h2 habits are changed:

* h2 advertises ``MAX_CONCURRENT_STREAMS`` 100 and go-plugin keeps two streams open for the life
  of the connection (broker, stdio, contract 1.9): with 98 slow queries in flight the 99th call
  — a health check, CollectMetrics, the host's Shutdown — waited in the host until a query
  ended. grpc-go, the Go SDK's server, advertises no limit; :data:`MAX_CONCURRENT_STREAMS` is
  HTTP/2's largest value, so a control call is never queued behind queries (queries themselves
  are bounded by ``max_concurrent_queries``; a waiting call costs its request and ~3 KB).
* h2 remembers how each of the last 65,536 streams of a connection was closed (~130 bytes
  each), so the host's one long-lived connection grows by ~8 MB before that levels off;
  :data:`CLOSED_STREAMS_REMEMBERED` keeps the last 1,024 (a frame for a forgotten stream is
  answered with RST_STREAM, which is what the host expects anyway).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Any, Final, TypeVar

import grpclib.protocol
import grpclib.server
import h2.events
import h2.exceptions
import h2.settings
from grpclib import GRPCError
from grpclib.const import Status
from grpclib.encoding.base import CodecBase

__all__ = (
    "CLOSED_STREAMS_REMEMBERED",
    "MAX_CONCURRENT_STREAMS",
    "PREFIX_BYTES",
    "PluginGrpcServer",
    "receive_limited",
)

CLOSED_STREAMS_REMEMBERED: Final = 1024
"""Closed streams h2 keeps per connection (h2's own default: 65,536)."""

MAX_CONCURRENT_STREAMS: Final = 2**31 - 1
"""Streams the host may open at once (h2's default: 100; grpc-go's: no limit)."""

PREFIX_BYTES: Final = 5
"""gRPC message prefix: a compressed flag byte and a big-endian uint32 length."""

T = TypeVar("T")


class _ReleasingHandler(grpclib.server.Handler):
    """grpclib's per-connection handler, releasing every stream even if its task never ran."""

    def accept(
        self,
        stream: grpclib.protocol.Stream,
        headers: Any,
        release_stream: Callable[[], Any],
    ) -> None:
        released = False

        def release_once() -> None:
            nonlocal released
            if not released:
                released = True
                release_stream()

        super().accept(stream, headers, release_once)
        self._tasks[stream].add_done_callback(lambda _: release_once())


class _Protocol(grpclib.protocol.H2Protocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        h2_connection = self.connection._connection
        h2_connection.update_settings(
            {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS}
        )
        self.connection.flush()
        processor = self.processor
        processors: dict[Any, Any] = processor.processors
        processors[h2.events.WindowUpdated] = functools.partial(
            _wake_writable_streams, processor, h2_connection
        )
        closed = getattr(self.connection._connection, "_closed_streams", None)
        if closed is not None and hasattr(closed, "_size_limit"):
            closed._size_limit = CLOSED_STREAMS_REMEMBERED


def _wake_writable_streams(
    processor: grpclib.protocol.EventsProcessor, h2_connection: Any, event: h2.events.WindowUpdated
) -> None:
    """Wake on a WINDOW_UPDATE only the streams that can now send.

    grpclib wakes every stream of the connection on each connection-level update; a stream
    whose own window is spent (a client not reading its body) goes back to sleep at once, so
    a reader that leaves dozens of streams unread while the connection window moves kept the
    loop busy waking them (issue 16: a core burnt with 50-98 unread bodies).
    """
    if event.stream_id:
        stream = processor.streams.get(event.stream_id)
        if stream is not None:
            stream.window_updated.set()
        return
    for stream_id, stream in processor.streams.items():
        try:
            writable = h2_connection.local_flow_control_window(stream_id) > 0
        except h2.exceptions.H2Error:  # closed or unknown: let the stream see that itself
            writable = True
        if writable:
            stream.window_updated.set()


class PluginGrpcServer(grpclib.server.Server):
    """grpclib's ``Server`` whose connections use :class:`_ReleasingHandler`."""

    def _protocol_factory(self) -> grpclib.protocol.H2Protocol:
        self.__gc_step__()
        handler = _ReleasingHandler(
            self._mapping, self._codec, self._status_details_codec, self.__dispatch__
        )
        self._handlers.add(handler)
        return _Protocol(handler, self._config, self._h2_config)


async def receive_limited(
    stream: grpclib.server.Stream[Any, Any], message_type: type[T], limit: int
) -> T | None:
    """The next request message, refused from its length prefix if it is above ``limit``.

    ``None`` when the client sent no message. Mirrors grpclib's ``Stream.recv_message`` (the
    same private attributes it uses) with the length check between prefix and body.
    """
    h2_stream: grpclib.protocol.Stream = stream._stream
    try:
        prefix = await h2_stream.recv_data(PREFIX_BYTES)
    except AssertionError:  # grpclib's buffer: the stream ended inside the prefix
        raise GRPCError(Status.INVALID_ARGUMENT, "truncated gRPC message prefix") from None
    if not prefix:
        return None
    if len(prefix) != PREFIX_BYTES:
        raise GRPCError(Status.INVALID_ARGUMENT, "truncated gRPC message prefix")
    compressed, length = struct.unpack(">?I", prefix)
    if compressed:
        raise GRPCError(Status.UNIMPLEMENTED, "compressed requests are not supported")
    if length > limit:
        raise GRPCError(
            Status.RESOURCE_EXHAUSTED,
            f"request of {length} bytes exceeds the plugin's limit of {limit} bytes "
            "(max_receive_message_size)",
        )
    try:
        body = await h2_stream.recv_data(length)
    except AssertionError:
        body = b""
    if len(body) != length:
        raise GRPCError(Status.INVALID_ARGUMENT, "the request ended inside a message")
    codec: CodecBase = stream._codec
    try:
        message: T = codec.decode(body, message_type)
    except GRPCError:
        raise
    except Exception as error:  # whatever the protobuf decoder raises
        raise GRPCError(
            Status.INVALID_ARGUMENT,
            f"the request is not a valid {message_type.__name__} message: "
            f"{type(error).__name__}: {error}",
        ) from None
    return message
