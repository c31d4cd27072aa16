"""Resources: the HTTP-like ``CallResource`` service, routed to async handlers or an ASGI app.

Plutono forwards ``/api/datasources/<id>/resources/<path>`` and
``/api/plugins/<id>/resources/<path>`` to the plugin (contract 2.4.4). This module is
transport-free: the gRPC adapter builds a :class:`ResourceRequest`, awaits
:meth:`ResourceRouter.dispatch` and sends the normalised :class:`ResourceResponse` (status and
headers with the first chunk, later chunks alone).

Host quirks handled here (contract 2.4.4): a status outside 100-599 can crash Plutono, so it is
replaced by 500 and logged; header names are always Go-canonical (``Content-Type``), because the
host checks ``Content-Type`` and ``Set-Cookie`` case-sensitively; every response carries a
``Content-Type``; ``Set-Cookie`` is dropped (the host drops it anyway, we drop it visibly).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Collection,
)
from types import MappingProxyType
from typing import Any, TypeVar

from ._asgi import ASGIApp, AsgiFailure, BodyCut, call_asgi
from ._calls import WorkerThreads, invoke, is_cancellation
from ._headers import Headers, QueryParams, canonical_header_name
from ._resource_types import JSON_CONTENT_TYPE, ResourceRequest, ResourceResponse
from ._routing import Mount, ResourceHandler, ResourceRoute
from .errors import ResourceError, describe_exception

__all__ = (
    "ASGI_CONTEXT_KEY",
    "Headers",
    "Mount",
    "QueryParams",
    "ResourceHandler",
    "ResourceRequest",
    "ResourceResponse",
    "ResourceRouter",
    "ResourceRoute",
    "canonical_header_name",
)

H = TypeVar("H", bound=Callable[..., Any])

logger = logging.getLogger("plutono_plugin.resource")

ASGI_CONTEXT_KEY = "plutono_plugin.context"
"""Scope key under which a mounted ASGI app finds the call's :class:`RequestContext`."""

_UNSAFE = re.compile(r"[\r\n\x00]")
_DEFAULT_CONTENT_TYPE = "application/octet-stream"


def _error(status: int, message: str) -> ResourceResponse:
    return ResourceResponse.json({"error": message}, status=status)


class ResourceRouter:
    """Routes resource calls to async handlers and mounted ASGI apps (first match wins).

    Example::

        router = ResourceRouter()

        async def get_item(request: ResourceRequest, item_id: int) -> dict[str, int]:
            return {"id": item_id}

        router.add_route("items/{item_id}", get_item, methods=["GET"])
        router.mount_asgi("api", starlette_app)
        response = await router.dispatch(ResourceRequest("GET", "items/7"))
        assert response.status == 200 and response.body == b'{"id":7}'
    """

    def __init__(
        self,
        routes: Collection[ResourceRoute | Mount] = (),
        *,
        workers: WorkerThreads | None = None,
        options_type: type[Any] | None = None,
    ) -> None:
        self.workers = workers or WorkerThreads()
        self._entries: list[ResourceRoute | Mount] = []
        self._options_type = options_type
        self._tasks: set[asyncio.Task[None]] = set()
        self._set_cookie_warned: set[str] = set()
        for entry in routes:
            self._add(entry)

    @property
    def routes(self) -> tuple[ResourceRoute | Mount, ...]:
        """The registered routes and mounts in matching order."""
        return tuple(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def _add(self, entry: ResourceRoute | Mount) -> None:
        if isinstance(entry, ResourceRoute) and entry.options_type is not self._options_type:
            entry = ResourceRoute(  # bound again, knowing the plugin's options
                entry.path,
                entry.handler,
                entry.methods,
                entry.name,
                options_type=self._options_type,
            )
        for other in self._entries:
            if isinstance(entry, ResourceRoute) and isinstance(other, ResourceRoute):
                clash = entry.path == other.path and entry.methods & other.methods - {"HEAD"}
                if clash:
                    methods = ", ".join(sorted(entry.methods & other.methods))
                    raise ValueError(f"route {entry.path!r} already has a handler for {methods}")
            if (
                isinstance(entry, Mount)
                and isinstance(other, Mount)
                and entry.prefix == other.prefix
            ):
                raise ValueError(f"an ASGI app is already mounted at {entry.prefix!r}")
        self._entries.append(entry)

    def add_route(
        self,
        path: str,
        handler: ResourceHandler,
        *,
        methods: Collection[str] = ("GET",),
        name: str | None = None,
    ) -> ResourceRoute:
        """Register ``handler`` for ``path``; ``TypeError``/``ValueError`` if it is invalid."""
        route = ResourceRoute(path, handler, methods, name, options_type=self._options_type)
        self._add(route)
        return route

    def route(
        self, path: str, *, methods: Collection[str] = ("GET",), name: str | None = None
    ) -> Callable[[H], H]:
        """Decorator form of :meth:`add_route`; returns the handler unchanged."""

        def register(handler: H) -> H:
            self.add_route(path, handler, methods=methods, name=name)
            return handler

        return register

    def mount_asgi(self, prefix: str, app: ASGIApp, *, name: str | None = None) -> Mount:
        """Serve every path under ``prefix`` with the ASGI ``app`` (its lifespan is not run)."""
        mount = Mount(prefix, app, name)
        self._add(mount)
        return mount

    async def aclose(self) -> None:
        """Cancel ASGI app tasks still running after their response (background tasks)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def dispatch(self, request: ResourceRequest) -> ResourceResponse:
        """Answer ``request``: never raises for handler errors, always a valid, normalised response.

        Unknown path → 404, known path with another method → 405 with ``Allow``, both JSON;
        :class:`ResourceError` → its status with ``{"error": message}``; any other exception →
        logged with its traceback and answered 500 ``{"error": "<Type>: <message>"}``.
        """
        path = request.path.strip("/")
        method = request.method.upper()
        allowed: set[str] = set()
        for entry in self._entries:
            if isinstance(entry, Mount):
                if entry.matches(path):
                    return await self._call_mount(entry, request)
                continue
            match = entry.pattern.fullmatch(path)
            if match is None:
                continue
            if method not in entry.methods:
                allowed |= entry.methods
                continue
            response = await self._call_route(entry, request, match.groupdict())
            if method == "HEAD":
                await response.aclose()
                response.body = b""
            return response
        if allowed:
            response = _error(405, f"method {method} not allowed for '{path}'")
            response.headers = response.headers.with_value("Allow", ", ".join(sorted(allowed)))
            return response
        return _error(404, f"no resource at '{path}'")

    async def _call_route(
        self, route: ResourceRoute, request: ResourceRequest, raw: dict[str, str]
    ) -> ResourceResponse:
        values: dict[str, Any] = {}
        for name, text in raw.items():
            converter = route.converters[name]
            try:
                values[name] = converter.convert(text)
            except ValueError:
                message = f"path parameter {name!r} must be {converter.type_name}, got {text!r}"
                return _error(422, message)
        request = dataclasses.replace(request, path_params=MappingProxyType(values))
        try:
            arguments = route.binding.arguments(request, request.context, None, values)
            result = await invoke(
                route.handler,
                arguments,
                is_async=route.binding.is_async,
                workers=self.workers,
                description=f"resource handler {route.name} ({request.method} {route.path})",
            )
        except ResourceError as error:
            return await self._finish(_error(error.status, error.message), route.name)
        except BaseException as error:  # SystemExit too: a 500, the process serves on
            if is_cancellation(error):
                raise
            return _crash(error, route.name)
        return await self._finish(result, route.name)

    async def _call_mount(self, mount: Mount, request: ResourceRequest) -> ResourceResponse:
        name = mount.name
        sub_path = request.path.lstrip("/")[len(mount.prefix) :].lstrip("/")
        root_path = f"/{mount.prefix}" if mount.prefix else ""
        forwarded = request.headers.getall("X-Forwarded-For")
        client_ip = forwarded[-1].split(",")[-1].strip() if forwarded else ""
        try:
            result = await call_asgi(
                mount.app,
                name=name,
                method=request.method.upper(),
                root_path=root_path,
                path=f"{root_path}/{sub_path}",
                query_string=request.url.partition("?")[2].encode(),
                headers=list(request.headers.multi_items()),
                body=request.body,
                client=(client_ip, 0) if client_ip else None,
                extra_scope={ASGI_CONTEXT_KEY: request.context},
                tasks=self._tasks,
            )
        except AsgiFailure as error:
            logger.error("ASGI app %r gave no response: %s", name, error)
            return _error(error.status, str(error))
        response = ResourceResponse(result.body, status=result.status, headers=result.headers)
        return await self._finish(response, name)

    async def _finish(self, result: object, route: str) -> ResourceResponse:
        """Turn a handler's return value into a response the host can send safely."""
        try:
            response = _to_response(result)
        except (TypeError, ValueError) as error:
            logger.error("resource route %r returned an unusable value: %s", route, error)
            return _error(500, f"handler returned an unusable value: {error}")
        status = response.status
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            # contract 2.4.4 / 7.1: net/http panics on such a code in an unrecovered goroutine.
            logger.error(
                "resource route %r returned invalid HTTP status %r; answering 500 instead",
                route,
                status,
            )
            await response.aclose()
            return _error(500, f"handler returned invalid HTTP status {status!r}")
        headers = response.headers
        if "Set-Cookie" in headers:
            # The host drops a header named exactly Set-Cookie (contract 2.4.4); drop it visibly.
            if route not in self._set_cookie_warned:
                self._set_cookie_warned.add(route)
                logger.warning("resource route %r set cookies; Plutono drops Set-Cookie", route)
            headers = headers.without("Set-Cookie")
        unsafe = [name for name, value in headers.multi_items() if _UNSAFE.search(name + value)]
        if unsafe:
            # CR/LF in a header would let a value forge headers of the host's HTTP response.
            logger.error(
                "resource route %r returned header(s) %s with CR, LF or NUL; dropped",
                route,
                ", ".join(sorted(set(unsafe))),
            )
            for name in unsafe:
                headers = headers.without(name)
        if "Content-Type" not in headers:
            headers = headers.with_value("Content-Type", _DEFAULT_CONTENT_TYPE)
        body: bytes | AsyncIterable[bytes] = response.body
        if not isinstance(body, bytes):
            primed = await _prime(body, route)
            if isinstance(primed, ResourceResponse):
                return await self._finish(primed, route)  # a bytes body: no further priming
            body = primed
        return ResourceResponse(body, status=status, headers=headers)


def _crash(error: BaseException, route: str) -> ResourceResponse:
    logger.error("resource route %r failed", route, exc_info=error)
    return _error(500, describe_exception(error))


def _to_response(result: object) -> ResourceResponse:
    if isinstance(result, ResourceResponse):
        return result
    if isinstance(result, dict | list):
        return ResourceResponse.json(result)
    if isinstance(result, str):
        return ResourceResponse.text(result)
    if isinstance(result, bytes | bytearray | memoryview):
        return ResourceResponse(bytes(result), content_type=_DEFAULT_CONTENT_TYPE)
    if result is None:
        return ResourceResponse(status=204, content_type=JSON_CONTENT_TYPE)
    if hasattr(result, "__aiter__"):
        return ResourceResponse(result, content_type=_DEFAULT_CONTENT_TYPE)
    raise TypeError(
        f"{type(result).__name__} is not a ResourceResponse, dict, list, str, bytes, "
        "None or async iterator"
    )


def _chunk(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    raise TypeError(f"a streamed body yielded {type(value).__name__}, expected bytes or str")


async def _prime(
    body: AsyncIterable[Any], route: str
) -> bytes | AsyncIterator[bytes] | ResourceResponse:
    """Fetch the first chunk so that a failure before any byte still gets a proper status."""
    iterator = aiter(body)
    try:
        first = _chunk(await anext(iterator))
    except StopAsyncIteration:
        return b""
    except ResourceError as error:
        await _close(iterator)
        return _error(error.status, error.message)
    except BaseException as error:
        await _close(iterator)
        if is_cancellation(error):
            raise
        return _crash(error, route)
    return _guarded(iterator, first, route)


async def _close(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:
            logger.exception("closing the streamed body failed")


async def _guarded(iterator: AsyncIterator[Any], first: bytes, route: str) -> AsyncIterator[bytes]:
    """Yield the chunks; an error after the first one is logged and ends the stream.

    The status and headers already went out with the first chunk, so they cannot change; the
    stream ends with :class:`BodyCut` so the call does not end as a success.
    """
    try:
        yield first
        async for value in iterator:
            yield _chunk(value)
    except BaseException as error:
        if is_cancellation(error) or isinstance(error, GeneratorExit):
            raise
        logger.exception("resource route %r failed while streaming; ending the body early", route)
        raise BodyCut(
            f"resource route {route!r} failed while streaming: {describe_exception(error)}"
        ) from None
    finally:
        await _close(iterator)
