"""Run an ASGI application (Starlette, FastAPI, ...) for one ``CallResource`` request.

This module is transport-free and knows nothing about gRPC or about :mod:`.resource`: it builds an
HTTP scope, feeds the request body, and turns the app's ``http.response.start`` and
``http.response.body`` events into a status, header pairs and either the whole body or an async
iterator of chunks (one per ``more_body`` event, so streaming survives; contract 2.4.4 flushes
every message to the browser).

The ASGI lifespan protocol is never run here: a resource call is one HTTP request. An app that
needs start-up work runs it in the plugin's own lifespan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from ._calls import is_cancellation

__all__ = ("ASGIApp", "AsgiFailure", "AsgiResult", "BodyCut", "call_asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("plutono_plugin.resource")

# Hop-by-hop headers belong to one connection; Plutono's net/http server manages its own.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class AsgiFailure(Exception):
    """No response could be had from the app (``status`` says which HTTP status to answer).

    The app failed or broke the protocol before its body began (already logged, 500), or the
    request cannot be given to it (400).
    """

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


class BodyCut(Exception):
    """A streamed body ended early: the app failed after the status had gone out.

    Already logged. The transport must not end the call as a success: with an error status
    Plutono appends its error to the partial body (contract 2.4.4).
    """


@dataclass(frozen=True, slots=True)
class AsgiResult:
    """What the app answered: ``body`` is bytes, or an async iterator when it streamed."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes | AsyncIterator[bytes]


class _Failed:
    """The app raised (``error``) or returned (``error is None``) before finishing its response."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _Call:
    """One request/response exchange with the app, running in its own task."""

    def __init__(self, app: ASGIApp, scope: Scope, body: bytes, name: str) -> None:
        self._app = app
        self._scope = scope
        self._body = body
        self._name = name
        self._body_sent = False
        self._response_complete = False
        self._finished = asyncio.Event()  # response complete or the consumer went away
        # maxsize=1: the app's send() waits until the previous chunk is taken (backpressure).
        self._events: asyncio.Queue[Message | _Failed] = asyncio.Queue(maxsize=1)

    async def run(self) -> None:
        try:
            await self._app(self._scope, self._receive, self._send)
        except BaseException as error:
            # SystemExit, KeyboardInterrupt (asyncio re-raises both out of the loop: the
            # process would end), a custom BaseException or a CancelledError nobody asked for
            # (the call would wait for its deadline): this call's 500, the process serves on.
            if is_cancellation(error):
                raise
            logger.error("ASGI app mounted as %r raised", self._name, exc_info=error)
            if not self._response_complete:
                await self._events.put(_Failed(error))
        else:
            if not self._response_complete:
                await self._events.put(_Failed(None))

    async def _receive(self) -> Message:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        # Like an HTTP server: block until the response is done or the client has gone.
        await self._finished.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self._finished.is_set():
            # ASGI spec 2.4: send() raises OSError once the client has disconnected.
            raise OSError("the resource call is over (response complete or client gone)")
        kind = message.get("type")
        if kind == "http.response.body" and not message.get("more_body", False):
            self._response_complete = True
        elif kind not in ("http.response.start", "http.response.body"):
            raise RuntimeError(f"unsupported ASGI message type {kind!r} for a resource call")
        await self._events.put(message)
        if self._response_complete:
            self._finished.set()

    async def next_event(self) -> Message | _Failed:
        return await self._events.get()

    def stop(self) -> None:
        """The consumer went away: further ``send`` calls fail, ``receive`` reports disconnect."""
        self._finished.set()


def _scope_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """ASGI's header pairs; a name outside latin-1 cannot be given to the app (400)."""
    pairs: list[tuple[bytes, bytes]] = []
    for key, value in headers:
        try:
            name = key.lower().encode("latin-1")
        except UnicodeEncodeError:
            raise AsgiFailure(
                f"request header name {key!r} is not latin-1: an ASGI app cannot receive it",
                status=400,
            ) from None
        pairs.append((name, value.encode("latin-1", "replace")))
    return pairs


def _response_headers(raw: object) -> list[tuple[str, str]]:
    """The app's header pairs as text, hop-by-hop ones left out; a malformed one is a 500."""
    headers: list[tuple[str, str]] = []
    try:
        for key, value in raw:  # type: ignore[attr-defined]
            name = bytes(key).decode("latin-1")
            if name.lower() not in _HOP_BY_HOP:
                headers.append((name, bytes(value).decode("latin-1")))
    except (TypeError, ValueError) as error:
        # ASGI headers are pairs of byte strings; str pairs raise TypeError in bytes().
        raise AsgiFailure(
            f"ASGI app sent malformed response headers (pairs of byte strings expected): {error}"
        ) from None
    return headers


def _body(message: Message) -> bytes:
    body = message.get("body", b"")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise AsgiFailure(f"ASGI app sent a body of type {type(body).__name__}, not bytes")
    return bytes(body)


def _failure_text(failure: _Failed) -> str:
    if failure.error is None:
        return "ASGI app returned without completing its response"
    return f"{type(failure.error).__name__}: {failure.error}"


async def call_asgi(
    app: ASGIApp,
    *,
    name: str,
    method: str,
    root_path: str,
    path: str,
    query_string: bytes,
    headers: list[tuple[str, str]],
    body: bytes,
    client: tuple[str, int] | None,
    extra_scope: dict[str, Any],
    tasks: set[asyncio.Task[None]],
) -> AsgiResult:
    """Call ``app`` once and collect its response.

    ``path`` is the full path (it includes ``root_path``, as ASGI 2.x servers do). A failure
    before the body begins raises :class:`AsgiFailure` with the app's error text; a failure
    while streaming ends the body iterator with :class:`BodyCut` (the status is already out).
    The app task stays in ``tasks`` while it runs (background tasks after the response) so
    that the owner can cancel it.
    """
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "root_path": root_path,
        "query_string": query_string,
        "headers": _scope_headers(headers),
        "client": client,
        "server": ("localhost", 80),
        "state": {},
        "extensions": {},
        **extra_scope,
    }
    call = _Call(app, scope, body, name)
    task = asyncio.get_running_loop().create_task(call.run(), name=f"asgi {name} {method} {path}")
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    try:
        start = await call.next_event()
        if isinstance(start, _Failed):
            raise AsgiFailure(_failure_text(start))
        if start["type"] != "http.response.start":
            raise AsgiFailure(f"ASGI app sent {start['type']!r} before 'http.response.start'")
        status = start.get("status")
        if not isinstance(status, int):
            raise AsgiFailure(f"ASGI app sent a non-integer status {status!r}")
        response_headers = _response_headers(start.get("headers", ()))
        first = await call.next_event()
        if isinstance(first, _Failed):
            # Nothing has gone out yet: a 500 tells the truth, the app's status would not.
            raise AsgiFailure(_failure_text(first))
        if first["type"] != "http.response.body":
            raise AsgiFailure(f"ASGI app sent {first['type']!r} twice")
        chunk = _body(first)
    except BaseException:
        call.stop()
        task.cancel()
        raise
    if not first.get("more_body", False):
        return AsgiResult(status, response_headers, chunk)
    return AsgiResult(status, response_headers, _stream(call, task, chunk, name))


async def _stream(
    call: _Call, task: asyncio.Task[None], first: bytes, name: str
) -> AsyncIterator[bytes]:
    complete = False
    try:
        yield first
        while True:
            event = await call.next_event()
            if isinstance(event, _Failed):  # logged by _Call.run; the status is already out
                raise BodyCut(f"ASGI app {name!r} failed while streaming: {_failure_text(event)}")
            if event["type"] != "http.response.body":
                logger.error("ASGI app %r sent %r while streaming", name, event["type"])
                raise BodyCut(f"ASGI app {name!r} sent {event['type']!r} while streaming")
            more = bool(event.get("more_body", False))
            try:
                chunk = _body(event)
            except AsgiFailure as error:
                logger.error("ASGI app %r: %s while streaming", name, error)
                raise BodyCut(f"ASGI app {name!r}: {error} while streaming") from None
            if not more:
                complete = True
                if chunk:
                    yield chunk
                return
            if chunk:
                yield chunk
    finally:
        if not complete:
            call.stop()
            task.cancel()
