"""Calls a host makes on a plugin over a gRPC channel, shared by the dev host and the test kit.

:class:`PluginClient` turns Plutono-style requests (frontend targets, resource paths, a
:class:`~plutono_plugin.context.PluginContext`) into ``pluginv2`` calls and decodes the answers.
:class:`~plutono_plugin.host.PluginHost` runs it over a real process's socket,
:class:`~plutono_plugin.testing.PluginTestClient` over an in-memory channel.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ..context import PluginContext
from ..errors import PluginError
from .requests import DEFAULT_TIME_RANGE, TimeLike, data_query
from .requests import plugin_context_to_proto as _context_to_proto

if TYPE_CHECKING:
    from grpclib.client import Channel

    from ..frame import Frame

__all__ = (
    "CallError",
    "HealthReply",
    "PluginClient",
    "QueryReply",
    "RawQueryReply",
    "ResourceReply",
    "target",
)


def target(ref_id: str = "A", *, query_type: str = "", **model: Any) -> dict[str, Any]:
    """A frontend target built from keywords: ``target("B", query_type="sine", amplitude=2)``.

    Keys go into the query JSON unchanged (use the frontend's camelCase names).
    """
    return {"refId": ref_id, "queryType": query_type, **model}


class CallError(PluginError):
    """The plugin answered a call with a gRPC error status (Plutono: mostly HTTP 500).

    ``status`` is the gRPC status name (``"UNIMPLEMENTED"``, ``"RESOURCE_EXHAUSTED"``, ...),
    ``message`` its text, as grpc-go would print them.
    """

    def __init__(self, method: str, status: str, message: str) -> None:
        super().__init__(f"{method}: rpc error: code = {status} desc = {message}")
        self.method = method
        self.status = status
        self.detail = message

    def __repr__(self) -> str:
        return f"CallError({self.method!r}, {self.status!r}, {self.detail!r})"


@contextlib.contextmanager
def _calling(method: str) -> Iterator[None]:
    from grpclib.exceptions import GRPCError

    try:
        yield
    except GRPCError as error:
        raise CallError(method, error.status.name, error.message or "") from None


@dataclass(frozen=True, slots=True)
class HealthReply:
    """What ``CheckHealth`` answered; Plutono answers HTTP 200 only for ``OK`` (contract 2.4.5)."""

    status: str
    """``OK``, ``ERROR`` or ``UNKNOWN`` (the ``HealthStatus`` name)."""
    message: str
    """The text shown under the "Save & Test" button."""
    details: dict[str, Any]
    """The ``jsonDetails`` object, parsed (``{}`` when empty)."""

    @property
    def ok(self) -> bool:
        """True when the status is ``OK`` (the "Save & Test" button turns green)."""
        return self.status == "OK"


class RawQueryReply(NamedTuple):
    """One refId's ``DataResponse`` as sent: Arrow frame bytes, error text, JSON meta bytes."""

    frames: list[bytes]
    error: str
    json_meta: bytes


class QueryReply(NamedTuple):
    """One refId's answer with decoded frames: ``frames, error = response``."""

    frames: list[Frame]
    error: str


@dataclass(frozen=True, slots=True)
class ResourceReply:
    """A ``CallResource`` answer: status and headers from the first message (contract 2.4.4).

    ``chunks`` are the bodies of the individual messages (Plutono flushes each one to the
    client); ``body`` is their concatenation. ``status`` 0 with no chunks means the plugin
    sent no message at all.
    """

    status: int
    headers: dict[str, list[str]]
    body: bytes
    chunks: list[bytes]

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class PluginClient:
    """Health, metrics, query and resource calls as Plutono makes them, over ``channel``.

    ``default_context`` is sent when a call names none; ``on_problem`` hears about answers
    Plutono would handle badly (e.g. a resource status Go cannot write).
    """

    def __init__(
        self,
        channel: Channel,
        default_context: PluginContext,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.channel = channel
        self.default_context = default_context
        self._on_problem = on_problem

    def _problem(self, text: str) -> None:
        if self._on_problem is not None:
            self._on_problem(text)

    def _context(self, context: PluginContext | None) -> Any:
        return _context_to_proto(context or self.default_context)

    async def ping(self) -> bool:
        """go-plugin's ``Ping``: ``grpc.health.v1.Health/Check`` for service "plugin" serves."""
        from .._proto.grpc.health.v1 import (
            HealthCheckRequest,
            HealthCheckResponseServingStatus,
            HealthStub,
        )

        stub = HealthStub(self.channel)
        with _calling("Health/Check"):
            reply = await stub.check(HealthCheckRequest(service="plugin"))
        return bool(reply.status == HealthCheckResponseServingStatus.SERVING)

    async def check_health(self, *, context: PluginContext | None = None) -> HealthReply:
        """``CheckHealth`` with a datasource (or app) context, as "Save & Test" sends it.

        ``UNIMPLEMENTED`` becomes ``UNKNOWN`` / "Health check not implemented", as in Plutono.
        """
        from .._proto import pluginv2

        stub = pluginv2.DiagnosticsStub(self.channel)
        request = pluginv2.CheckHealthRequest(plugin_context=self._context(context))
        try:
            with _calling("CheckHealth"):
                reply = await stub.check_health(request)
        except CallError as error:
            if error.status == "UNIMPLEMENTED":
                return HealthReply("UNKNOWN", "Health check not implemented", {})
            raise
        details: Any = {}
        if reply.json_details:
            details = json.loads(reply.json_details)
            if not isinstance(details, dict):
                raise ValueError(
                    "CheckHealth jsonDetails must be a JSON object; Plutono answers HTTP 500 "
                    f"'Failed to unmarshal detailed response' for {reply.json_details[:100]!r}"
                )
        return HealthReply(reply.status.name or "UNKNOWN", reply.message, details)

    async def collect_metrics(self) -> str:
        """``CollectMetrics``: the Prometheus text the plugin exposes ("" if unimplemented)."""
        from .._proto import pluginv2

        stub = pluginv2.DiagnosticsStub(self.channel)
        try:
            with _calling("CollectMetrics"):
                reply = await stub.collect_metrics(pluginv2.CollectMetricsRequest())
        except CallError as error:
            if error.status == "UNIMPLEMENTED":
                return ""
            raise
        if reply.metrics is None:
            return ""
        return reply.metrics.prometheus.decode("utf-8", errors="replace")

    async def query_raw(
        self,
        *queries: Mapping[str, Any],
        context: PluginContext | None = None,
        headers: Mapping[str, str] | None = None,
        time_range: tuple[TimeLike, TimeLike] | None = None,
    ) -> dict[str, RawQueryReply]:
        """``QueryData`` for frontend targets; frames stay Arrow bytes (see :meth:`query`)."""
        from .._proto import pluginv2

        if not queries:
            raise ValueError("no queries: Plutono answers 400 'No queries found in query'")
        plugin_context = context or self.default_context
        datasource_id = plugin_context.datasource.id if plugin_context.datasource else None
        span = time_range or DEFAULT_TIME_RANGE
        request = pluginv2.QueryDataRequest(
            plugin_context=_context_to_proto(plugin_context),
            headers=dict(headers or {}),
            queries=[data_query(query, span, datasource_id=datasource_id) for query in queries],
        )
        with _calling("QueryData"):
            reply = await pluginv2.DataStub(self.channel).query_data(request)
        return {
            ref_id: RawQueryReply(list(response.frames), response.error, response.json_meta)
            for ref_id, response in reply.responses.items()
        }

    async def query(
        self,
        *queries: Mapping[str, Any],
        context: PluginContext | None = None,
        headers: Mapping[str, str] | None = None,
        time_range: tuple[TimeLike, TimeLike] | None = None,
    ) -> dict[str, QueryReply]:
        """``QueryData`` for frontend targets, answering ``{refId: (frames, error)}``.

        A target is the JSON the panel editor keeps (``{"refId": "A", "queryType": "sine",
        ...}``, see :func:`target`), optionally with ``from``/``to``; ``time_range`` defaults
        to ``("now-6h", "now")``. Frames are decoded with :meth:`Frame.decode`.
        """
        from ..frame import Frame

        raw = await self.query_raw(
            *queries, context=context, headers=headers, time_range=time_range
        )
        return {
            ref_id: QueryReply([Frame.decode(data) for data in response.frames], response.error)
            for ref_id, response in raw.items()
        }

    async def call_resource(
        self,
        method: str,
        path: str,
        *,
        body: bytes | str = b"",
        headers: Mapping[str, str | Sequence[str]] | None = None,
        context: PluginContext | None = None,
    ) -> ResourceReply:
        """``CallResource`` as for ``/api/datasources/1/resources/<path>`` (contract 2.4.4).

        ``path`` may carry a query string (``"search?q=x"``); the leading slash is dropped as
        Plutono does. Use canonical header names (``Content-Type``).
        """
        from .._proto import pluginv2

        relative = path.lstrip("/")
        request = pluginv2.CallResourceRequest(
            plugin_context=self._context(context),
            path=relative.partition("?")[0],
            method=method.upper(),
            url=relative,
            headers={
                key: pluginv2.StringList([value] if isinstance(value, str) else list(value))
                for key, value in (headers or {}).items()
            },
            body=body.encode() if isinstance(body, str) else body,
        )
        with _calling("CallResource"):
            stub = pluginv2.ResourceStub(self.channel)
            messages = [message async for message in stub.call_resource(request)]
        if not messages:
            return ResourceReply(0, {}, b"", [])
        first = messages[0]
        if not 100 <= first.code <= 999:
            self._problem(
                f"resource {method} {relative!r} answered status {first.code}: Go's net/http "
                "panics on it and Plutono crashes; send a valid HTTP status (contract 2.4.4)"
            )
        chunks = [message.body for message in messages]
        return ResourceReply(
            first.code,
            {key: list(values.values) for key, values in first.headers.items()},
            b"".join(chunks),
            chunks,
        )
