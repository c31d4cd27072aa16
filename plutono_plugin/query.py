"""Queries: the ``pluginv2.Data/QueryData`` service, transport-free.

A request carries several queries (one per panel target, refId ``A``, ``B``, ...). The
:class:`QueryRouter` sends each to the handler registered for its ``queryType`` (or the fallback),
runs them **concurrently** with a capacity limit, and isolates them: a handler's exception becomes
that refId's ``error`` and never cancels its siblings, so Plutono shows partial results
(contract 2.4.1, 5.4). Unlike SDK v0.88's ``QueryTypeMux``, query types do not wait for each other
and one failure does not fail the whole request.

A handler receives what it annotates::

    @plugin.query("sine")
    async def sine(query: Query, model: SineModel, context: RequestContext) -> Frame: ...

``Query`` is the query, a dataclass or pydantic model is the query JSON decoded, and
``RequestContext`` the call's context. It returns a :class:`~plutono_plugin.frame.model.Frame`, a
sequence of frames, a :class:`QueryResponse` or ``None``. With ``batch=True`` it receives
``list[Query]`` and returns a mapping refId → any of those.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, TypeAlias, TypeVar

import anyio

from . import _advice, _metrics
from ._binding import Binding, bind_handler
from ._calls import WorkerThreads, invoke, is_cancellation, log_fields
from ._model import ModelError, decode_model
from ._time import EPOCH
from .context import RequestContext
from .errors import FrameError, QueryError, describe_exception, text_of
from .frame import Frame

__all__ = (
    "Query",
    "QueryHandler",
    "QueryResponse",
    "QueryResult",
    "QueryRoute",
    "QueryRouter",
    "TimeRange",
)

_log = logging.getLogger("plutono_plugin.query")

UNREGISTERED_LABEL = "<unregistered>"
"""The one ``query_type`` metric label for every type without a route (a client may send any
string: labels of its choosing would grow the metrics payload without bound)."""


@dataclass(frozen=True, slots=True)
class TimeRange:
    """The dashboard's time range: ``start`` and ``end``, aware UTC datetimes (milliseconds)."""

    start: datetime
    end: datetime

    @classmethod
    def from_epoch_ms(cls, from_ms: int, to_ms: int) -> TimeRange:
        """Build from epoch milliseconds ``from_ms`` and ``to_ms``, as the host sends them."""
        return cls(EPOCH + timedelta(milliseconds=from_ms), EPOCH + timedelta(milliseconds=to_ms))

    @property
    def duration(self) -> timedelta:
        """``end - start``."""
        return self.end - self.start

    @property
    def from_ms(self) -> int:
        """Start as epoch milliseconds."""
        return _epoch_ms(self.start)

    @property
    def to_ms(self) -> int:
        """End as epoch milliseconds."""
        return _epoch_ms(self.end)


def _epoch_ms(moment: datetime) -> int:
    delta = moment - EPOCH
    return delta // timedelta(milliseconds=1)


@dataclass(frozen=True)
class Query:
    """One query of a ``QueryData`` request (contract 3.1 ``DataQuery``).

    ``ref_id`` names the query (``A``, ``B``; always ``A`` from alerting), ``query_type`` is the
    target's ``queryType`` (``""`` when none), ``time_range`` the dashboard's range,
    ``interval`` the panel's suggested step, ``max_data_points`` its width in points.
    ``raw_json`` holds, and ``json`` parses, the whole target object the frontend sent
    (``refId``, ``datasource``, ``queryType`` and the editor's own keys). Alerting sends
    ``max_data_points`` and ``interval`` as zero (contract 2.4.2).
    """

    ref_id: str
    query_type: str = ""
    time_range: TimeRange = field(default_factory=lambda: TimeRange.from_epoch_ms(0, 0))
    interval: timedelta = timedelta(0)
    max_data_points: int = 0
    raw_json: bytes = b"{}"

    @cached_property
    def json(self) -> dict[str, Any]:
        """The query JSON parsed; a :class:`QueryError` naming the refId if it is not an object."""
        if not self.raw_json.strip():
            return {}
        try:
            value = json.loads(self.raw_json)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise QueryError(f"query JSON is not valid: {error}", ref_id=self.ref_id) from None
        except RecursionError:
            raise QueryError("query JSON is nested too deeply", ref_id=self.ref_id) from None
        if not isinstance(value, dict):
            raise QueryError(
                f"query JSON must be an object, got {type(value).__name__}", ref_id=self.ref_id
            )
        return value

    @property
    def interval_ms(self) -> int:
        """``interval`` in whole milliseconds."""
        return self.interval // timedelta(milliseconds=1)


@dataclass(slots=True)
class QueryResponse:
    """What one refId answers: frames, an error, or both (Plutono shows frames and the error)."""

    frames: list[Frame] = field(default_factory=list)
    error: str | None = None

    @classmethod
    def failure(cls, message: str) -> QueryResponse:
        """A response with only an error, ``message``."""
        return cls(error=message)


QueryResult: TypeAlias = Frame | Sequence[Frame] | QueryResponse | None
"""What a query handler may return."""

QueryHandler: TypeAlias = Callable[..., Awaitable[Any]] | Callable[..., Any]
"""An ``async def`` (or a plain ``def``, run in a worker thread) taking any of ``Query``, a
model, ``RequestContext`` (see module docs)."""
H = TypeVar("H", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class QueryRoute:
    """A handler for one query type (``None``: the fallback for every type without a route)."""

    query_type: str | None
    handler: QueryHandler
    batch: bool = False
    timeout: float | None = None
    options_type: type[Any] | None = field(default=None, repr=False)
    """The plugin's typed options (``Plugin(options=...)``): a parameter annotated with it
    receives the datasource's options. Set by the router the route is added to."""
    binding: Binding = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kind = "batch query" if self.batch else "query"
        binding = bind_handler(
            self.handler,
            kind=kind,
            input_types=(list, Sequence) if self.batch else (Query,),
            allow_model=not self.batch,
            options_type=self.options_type,
        )
        if self.timeout is not None and not (self.timeout > 0 and math.isfinite(self.timeout)):
            raise ValueError(f"query route {self.query_type!r}: timeout must be > 0 seconds")
        object.__setattr__(self, "binding", binding)

    @property
    def label(self) -> str:
        """The query type as shown in metrics and logs."""
        return "<fallback>" if self.query_type is None else self.query_type


def _as_response(result: object, ref_id: str) -> QueryResponse:
    if isinstance(result, QueryResponse):
        response = result
    elif result is None:
        response = QueryResponse()
    elif isinstance(result, Frame):
        response = QueryResponse(frames=[result])
    elif isinstance(result, Sequence) and not isinstance(result, str | bytes):
        response = QueryResponse(frames=list(result))
    else:
        raise QueryError(_advice.returned_message(result), ref_id=ref_id)
    frames: list[Frame] = []
    for frame in response.frames:
        if not isinstance(frame, Frame):
            raise QueryError(_advice.returned_message(frame, among_frames=True), ref_id=ref_id)
        if not frame.ref_id:
            # The host fills empty refIds with the response key too (contract 4.2); do it here
            # so the encoded frame is complete. Copy: a handler may return a shared frame.
            frame = copy.copy(frame)
            frame.ref_id = ref_id
        frames.append(frame)
    return QueryResponse(frames=frames, error=response.error)


class QueryRouter:
    """Routes queries by type and runs them concurrently, each isolated.

    Example::

        router = QueryRouter(max_concurrency=10)
        router.add_route("sine", sine)          # what @plugin.query("sine") does
        router.add_route(None, fallback)        # what @plugin.query() does
        responses = await router.dispatch(queries, RequestContext())
    """

    def __init__(
        self,
        routes: Sequence[QueryRoute] = (),
        *,
        max_concurrency: int = 10,
        workers: WorkerThreads | None = None,
        options_type: type[Any] | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.workers = workers or WorkerThreads()
        self._routes: dict[str | None, QueryRoute] = {}
        self._options_type = options_type
        self._max_concurrency = max_concurrency
        self._limiter: anyio.CapacityLimiter | None = None
        for route in routes:
            self._add(route)

    def _add(self, route: QueryRoute) -> None:
        if route.options_type is not self._options_type:  # bound again, knowing the options
            route = dataclasses.replace(route, options_type=self._options_type)
        if route.query_type in self._routes:
            what = "fallback" if route.query_type is None else f"query type {route.query_type!r}"
            raise ValueError(f"a handler for the {what} is already registered")
        self._routes[route.query_type] = route

    def add_route(
        self,
        query_type: str | None,
        handler: QueryHandler,
        *,
        batch: bool = False,
        timeout: float | None = None,
    ) -> QueryRoute:
        """Register ``handler`` for ``query_type`` (``None`` = fallback); validated now."""
        route = QueryRoute(
            query_type, handler, batch=batch, timeout=timeout, options_type=self._options_type
        )
        self._add(route)
        return route

    def route(
        self,
        query_type: str | None = None,
        *,
        batch: bool = False,
        timeout: float | None = None,
    ) -> Callable[[H], H]:
        """Decorator form of :meth:`add_route`; returns the handler unchanged."""
        if callable(query_type):
            raise TypeError("use @router.route() or @router.route('type'), with parentheses")

        def register(handler: H) -> H:
            self.add_route(query_type, handler, batch=batch, timeout=timeout)
            return handler

        return register

    @property
    def routes(self) -> tuple[QueryRoute, ...]:
        """Registered routes, in registration order."""
        return tuple(self._routes.values())

    def __bool__(self) -> bool:
        return bool(self._routes)

    def route_for(self, query_type: str) -> QueryRoute | None:
        """The route a query of ``query_type`` goes to, or ``None``."""
        return self._routes.get(query_type) or self._routes.get(None)

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """Shared limit on handlers running at once (created in the running event loop)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._max_concurrency)
        return self._limiter

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """Hold one of the limiter's places while a handler runs.

        A free place is taken without the two scheduling checkpoints of ``async with
        limiter`` (measured: a third of the router's own cost per query); a full limiter waits.
        """
        limiter = self.limiter
        try:
            limiter.acquire_nowait()
        except anyio.WouldBlock:
            await limiter.acquire()
        try:
            yield
        finally:
            limiter.release()

    async def dispatch(
        self, queries: Sequence[Query], context: RequestContext
    ) -> dict[str, QueryResponse]:
        """Answer every query; the result has one entry per distinct refId, in request order."""
        results: dict[str, QueryResponse] = {query.ref_id: QueryResponse() for query in queries}
        if len(queries) == 1:  # the common case: no task group (a visible cost per request)
            route = self.route_for(queries[0].query_type)
            if route is not None and not route.batch:
                await self._run_one(route, queries[0], context, results)
                return results
        batches: dict[str | None, list[Query]] = {}
        async with anyio.create_task_group() as group:
            for query in queries:
                route = self.route_for(query.query_type)
                if route is None:
                    results[query.ref_id] = QueryResponse.failure(
                        _advice.unknown_type_message(query.query_type, self._routes)
                    )
                    _metrics.QUERIES.labels(UNREGISTERED_LABEL, "error").inc()
                elif route.batch:
                    batches.setdefault(route.query_type, []).append(query)
                else:
                    group.start_soon(self._run_one, route, query, context, results)
            for query_type, batch in batches.items():
                group.start_soon(self._run_batch, self._routes[query_type], batch, context, results)
        return results

    async def _run_one(
        self,
        route: QueryRoute,
        query: Query,
        context: RequestContext,
        results: dict[str, QueryResponse],
    ) -> None:
        started = time.perf_counter()
        with log_fields(refId=query.ref_id, queryType=query.query_type):
            response = await self._answer(route, query, context)
        results[query.ref_id] = response
        outcome = "error" if response.error else "ok"
        _metrics.QUERIES.labels(route.label, outcome).inc()
        _metrics.QUERY_DURATION.labels(route.label).observe(time.perf_counter() - started)

    async def _answer(
        self, route: QueryRoute, query: Query, context: RequestContext
    ) -> QueryResponse:
        try:
            async with self._slot():
                model = None
                unknown: list[str] = []
                if route.binding.model is not None:
                    unknown = _advice.checked_keys(route.binding.model, query.json, query.ref_id)
                    try:
                        model = decode_model(route.binding.model, query.json)
                    except ModelError as error:
                        raise QueryError(f"invalid query: {error}", ref_id=query.ref_id) from None
                arguments = route.binding.arguments(query, context, model)
                if route.timeout is None:  # a cancel scope costs as much as the limiter
                    result = await self._call(route, arguments, query.ref_id)
                else:
                    with anyio.fail_after(route.timeout):
                        result = await self._call(route, arguments, query.ref_id)
            response = _as_response(result, query.ref_id)
            if unknown and not response.error:
                frames = _advice.warn_unknown(route.binding.model, unknown, response.frames, query)
                response = QueryResponse(frames=frames)
            return response
        except TimeoutError as error:
            if route.timeout:
                return QueryResponse.failure(f"query timed out after {route.timeout:g} s")
            return self._failed(route, query.ref_id, error)
        except BaseException as error:  # SystemExit, KeyboardInterrupt...: this refId's error
            if is_cancellation(error):
                raise
            return self._failed(route, query.ref_id, error)

    async def _call(self, route: QueryRoute, arguments: dict[str, Any], ref_ids: str) -> Any:
        return await invoke(
            route.handler,
            arguments,
            is_async=route.binding.is_async,
            workers=self.workers,
            description=f"query handler {route.label} (refId {ref_ids})",
        )

    async def _run_batch(
        self,
        route: QueryRoute,
        queries: list[Query],
        context: RequestContext,
        results: dict[str, QueryResponse],
    ) -> None:
        started = time.perf_counter()
        answers: Mapping[str, object] = {}
        failure: str | None = None
        ref_ids = ",".join(q.ref_id for q in queries)
        try:
            with log_fields(refId=ref_ids, queryType=queries[0].query_type):
                async with self._slot():
                    arguments = route.binding.arguments(queries, context, None)
                    with anyio.fail_after(route.timeout):
                        answers = await self._call(route, arguments, ref_ids)
            if not isinstance(answers, Mapping):
                raise QueryError(
                    f"batch handler returned {type(answers).__name__}; expected a mapping "
                    "refId -> result"
                )
        except BaseException as error:
            if is_cancellation(error):
                raise
            if isinstance(error, TimeoutError) and route.timeout:
                failure = f"query timed out after {route.timeout:g} s"
            else:
                failure = self._failed(route, ref_ids, error).error
        for query in queries:
            if failure is not None:
                response = QueryResponse.failure(failure)
            elif query.ref_id not in answers:
                response = QueryResponse.failure(
                    f"batch handler returned no response for refId '{query.ref_id}'"
                )
            else:
                try:
                    response = _as_response(answers[query.ref_id], query.ref_id)
                except QueryError as error:
                    response = QueryResponse.failure(error.message)
            results[query.ref_id] = response
            _metrics.QUERIES.labels(route.label, "error" if response.error else "ok").inc()
        _metrics.QUERY_DURATION.labels(route.label).observe(time.perf_counter() - started)

    @staticmethod
    def _failed(route: QueryRoute, ref_id: str, error: BaseException) -> QueryResponse:
        if isinstance(error, QueryError):
            _log.info("query %s failed: %s", ref_id, error.message, extra={"refId": ref_id})
        else:
            _log.error(
                "query handler %s raised for refId %s",
                route.label,
                ref_id,
                exc_info=error,
                extra={"refId": ref_id, "queryType": route.label},
            )
        return QueryResponse.failure(describe_exception(error))


def encode_response(
    response: QueryResponse, *, max_size: int | None = None
) -> tuple[list[bytes], str]:
    """Encode a response's frames; a frame that cannot be encoded becomes the error.

    Frames that encode are kept: Plutono shows them beside the error (contract 2.4.1). Above
    ``max_size`` bytes of frames in all, the frames are dropped and the error names both sizes.
    The error text is always valid UTF-8 (protobuf strings must be).
    """
    encoded: list[bytes] = []
    errors: list[str] = [text_of(response.error)] if response.error else []
    for frame in response.frames:
        try:
            encoded.append(frame.encode())
        except FrameError as error:
            errors.append(f"cannot encode frame: {text_of(error.message)}")
        except Exception as error:  # e.g. a lone surrogate in a string column
            _log.error("encoding a frame failed", exc_info=error)
            errors.append(f"cannot encode frame: {text_of(describe_exception(error))}")
    size = sum(map(len, encoded))
    if max_size is not None and size > max_size:
        _log.warning(
            "query response of %d bytes exceeds the limit of %d bytes; sent as an error",
            size,
            max_size,
            extra={"response_bytes": size, "limit_bytes": max_size},
        )
        encoded = []
        errors.append(
            f"response of {size} bytes exceeds the plugin's limit of {max_size} bytes "
            "(max_query_response_size): ask for less data (a shorter time range, fewer series)"
        )
    return encoded, "; ".join(errors)
