"""Quickstart: a testdata-style datasource showing every feature of plutono-plugin.

Query types: "" and ``sine`` (a wide time series), ``error`` (fails with ``message``), ``slow``
(waits ``durationMs``, then answers like sine), ``table`` (one column of each basic type).
Resources: ``ping``, ``echo``, ``stream?chunks=N``, ``items/{item_id}``. Health: OK, or ERROR
when the datasource's setting ``fail`` is on. An instance per datasource counts the queries it
served (metric ``quickstart_queries_served``).

The datasource's settings are typed (:class:`QuickstartOptions`) and the query models are
dataclasses: ``plutono-plugin build`` generates the settings page and the query editor from them
(docs/frontend.md), so this plugin ships no JavaScript.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from prometheus_client import Counter

from plutono_plugin import (
    DataSourceSettings,
    Field,
    FieldConfig,
    Frame,
    HealthResult,
    Plugin,
    Query,
    QueryError,
    RequestContext,
    ResourceRequest,
    ResourceResponse,
    Secret,
)


@dataclass
class QuickstartOptions:
    """The datasource's settings page: jsonData fields, and ``api_key`` in secureJsonData."""

    unit: Literal["", "percent", "ms", "short"] = ""
    """Unit of the sine values (empty: none)."""
    max_points: int = field(default=0, metadata={"min": 0})
    """Most points per sine series; 0 leaves it to the panel's max data points."""
    fail: bool = False
    """Make "Save & Test" fail on purpose, to see how an ERROR looks."""
    api_key: Secret | None = field(default=None, metadata={"label": "API key"})
    """Not used by the quickstart; shows how a secret setting is stored and reset."""


plugin = Plugin(options=QuickstartOptions)

SERVED = Counter("quickstart_queries_served", "Queries answered, by datasource.", ("datasource",))


@dataclass
class Upstream:
    """Per-datasource state: here just a name and a count of the queries it served.

    A real plugin would keep an HTTP client or a connection pool here.
    """

    name: str
    served: int = 0

    def record(self) -> None:
        """Count one query (also exported as the metric ``quickstart_queries_served``)."""
        self.served += 1
        SERVED.labels(self.name).inc()


@plugin.instance
async def upstream(settings: DataSourceSettings) -> AsyncIterator[Upstream]:
    """Build the datasource's instance; code after ``yield`` would run at disposal."""
    yield Upstream(settings.name or str(settings.id))


def record(context: RequestContext) -> None:
    """Count a query on the datasource's instance (there is none without datasource settings)."""
    if context.instance is not None:
        context.instance.record()


@dataclass
class SineQuery:
    """The query editor's JSON for sine queries: ``{"amplitude": 2, "labels": {"host": "a"}}``."""

    amplitude: float = 1.0
    """Peak value of the wave."""
    labels: dict[str, str] = field(default_factory=dict)
    """Labels of the series, as a JSON object: {"host": "a"}."""


@dataclass
class SlowQuery(SineQuery):
    """A sine query that first waits ``durationMs`` milliseconds."""

    duration_ms: int = field(default=0, metadata={"min": 0, "max": 60_000})
    """Milliseconds to wait before answering (at most a minute)."""


@dataclass
class ErrorQuery:
    """A query that fails with ``message``."""

    message: str = "query failed"
    """The error text (template variables such as $host are replaced)."""


def sine_frame(query: Query, model: SineQuery, options: QuickstartOptions | None = None) -> Frame:
    """One wide frame: ``time`` and ``value = amplitude * sin(t)`` over the time range.

    The step is ``max(intervalMS, range / points)`` with ``points`` the panel's max data points
    capped by the ``max_points`` setting, or 1 s when all are 0 (alerting sends zeros).
    """
    settings = options or QuickstartOptions()
    span_ms = max(query.time_range.to_ms - query.time_range.from_ms, 0)
    points = min(filter(None, (query.max_data_points, settings.max_points)), default=0)
    per_point_ms = span_ms // points if points else 0
    step_ms = max(query.interval_ms, per_point_ms) or 1000
    start = query.time_range.from_ms
    times = range(start, start + span_ms, step_ms)  # epoch milliseconds
    return Frame(
        query.ref_id,
        [
            # Times may be datetimes or, as here, epoch nanoseconds: exact and cheapest.
            Field("time", [t * 1_000_000 for t in times], type="time"),
            Field(
                "value",
                [model.amplitude * math.sin(t / 1000) for t in times],
                type="float64",
                labels={str(k): str(v) for k, v in model.labels.items()} or None,
                config=FieldConfig(unit=settings.unit) if settings.unit else None,
            ),
        ],
    )


@plugin.query("")  # registered first: the editor's first choice, what a new query gets
async def default(
    query: Query,
    model: SineQuery,
    context: RequestContext,
    options: QuickstartOptions | None = None,
) -> Frame:
    """What a new query runs until a type is chosen: a sine wave of amplitude 1."""
    return await sine(query, model, context, options)


@plugin.query("sine")
async def sine(
    query: Query,
    model: SineQuery,
    context: RequestContext,
    options: QuickstartOptions | None = None,
) -> Frame:
    """A sine wave over the time range."""
    record(context)
    return sine_frame(query, model, options)


@plugin.query("slow")
async def slow(
    query: Query,
    model: SlowQuery,
    context: RequestContext,
    options: QuickstartOptions | None = None,
) -> Frame:
    """Wait without blocking the other queries of the request, then answer like sine."""
    await asyncio.sleep(model.duration_ms / 1000)
    record(context)
    return sine_frame(query, model, options)


@plugin.query("error")
async def error(model: ErrorQuery, context: RequestContext) -> Frame:
    """Fail this query only: the other queries of the request still answer."""
    record(context)
    raise QueryError(model.message)


@plugin.query("table")
async def table(query: Query, context: RequestContext) -> Frame:
    """One frame with a column of each basic type (nullable where a value is missing)."""
    record(context)
    now = query.time_range.end
    return Frame(
        query.ref_id,
        [
            Field("time", [now - timedelta(minutes=2), now - timedelta(minutes=1), now]),
            Field("host", ["alpha", "beta", None]),
            Field("requests", [120, 95, 310], type="int64"),
            Field("errors", [0, 3, None], type="uint32"),
            Field("latency", [0.21, 1.5, 0.05], type="float64"),
            Field("healthy", [True, False, True]),
        ],
    )


@plugin.resource("ping")
async def ping(request: ResourceRequest) -> dict[str, Any]:
    """``GET ping``: a liveness probe for the frontend."""
    return {"ok": True}


@plugin.resource("echo", methods=["GET", "POST"])
async def echo(request: ResourceRequest) -> dict[str, Any]:
    """``GET|POST echo``: what the plugin received, as JSON."""
    return {
        "method": request.method,
        "path": request.path,
        "query": {key: request.query.getall(key) for key in request.query},
        "headers": {key: value for key, value in request.headers.items()},
        "body": request.text(),
    }


@plugin.resource("stream")
async def stream(request: ResourceRequest) -> ResourceResponse:
    """``GET stream?chunks=N``: N body chunks, each sent to the browser as it is produced."""
    try:
        chunks = int(request.query.get("chunks") or "3")
    except ValueError:
        return ResourceResponse.json({"error": "chunks must be an integer"}, status=422)

    async def body() -> AsyncIterator[bytes]:
        for index in range(chunks):
            yield f"chunk {index}\n".encode()
            await asyncio.sleep(0.01)

    return ResourceResponse(body(), content_type="text/plain; charset=utf-8")


@plugin.resource("items/{item_id}")
async def item(request: ResourceRequest, item_id: int) -> dict[str, Any]:
    """``GET items/<int>``: a typed path parameter (``items/abc`` is answered 422)."""
    return {"id": item_id, "name": f"item {item_id}"}


@plugin.check_health
async def health(options: QuickstartOptions | None) -> HealthResult:
    """ "Save & Test": ERROR when the datasource's setting ``fail`` is on."""
    if options is not None and options.fail:
        return HealthResult.error("the fail setting is on: failing on purpose")
    return HealthResult.ok("quickstart datasource is working")


if __name__ == "__main__":
    plugin.run()
