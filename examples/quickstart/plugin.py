"""Quickstart: a testdata-style datasource showing every feature of plutono-plugin.

Query types: "" and ``sine`` (a wide time series), ``error`` (fails with ``message``), ``slow``
(waits ``durationMs``, then answers like sine), ``table`` (one column of each basic type).
Resources: ``ping``, ``echo``, ``stream?chunks=N``, ``items/{item_id}``. Health: OK, or ERROR
when the datasource's jsonData has ``"fail": true``. An instance per datasource counts the
queries it served (metric ``quickstart_queries_served``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter

from plutono_plugin import (
    DataSourceSettings,
    Field,
    Frame,
    HealthResult,
    Plugin,
    Query,
    QueryError,
    RequestContext,
    ResourceRequest,
    ResourceResponse,
)

plugin = Plugin()

SERVED = Counter("quickstart_queries_served", "Queries answered, by datasource.", ("datasource",))


@dataclass
class Upstream:
    """Per-datasource state: here just a name and a count of queries served."""

    name: str
    served: int = 0

    def record(self) -> None:
        self.served += 1
        SERVED.labels(self.name).inc()


@plugin.instance
async def upstream(settings: DataSourceSettings) -> AsyncIterator[Upstream]:
    yield Upstream(settings.name or str(settings.id))


@dataclass
class SineQuery:
    """The query editor's JSON for sine-like queries."""

    amplitude: float = 1.0
    labels: dict[str, str] = field(default_factory=dict)
    duration_ms: int = 0
    message: str = "query failed"


def sine_frame(query: Query, model: SineQuery) -> Frame:
    """One wide frame: ``time`` and ``value = amplitude * sin(t)`` over the time range."""
    span_ms = max(query.time_range.to_ms - query.time_range.from_ms, 0)
    step_ms = max(
        query.interval_ms, span_ms // query.max_data_points if query.max_data_points else 0
    )
    step_ms = step_ms or 1000
    start = query.time_range.from_ms
    times = [start + offset for offset in range(0, span_ms, step_ms)]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return Frame(
        query.ref_id,
        [
            Field("time", [epoch + timedelta(milliseconds=t) for t in times], type="time"),
            Field(
                "value",
                [model.amplitude * math.sin(t / 1000) for t in times],
                type="float64",
                labels={str(k): str(v) for k, v in model.labels.items()} or None,
            ),
        ],
    )


@plugin.query("")
@plugin.query("sine")
async def sine(query: Query, model: SineQuery, context: RequestContext) -> Frame:
    if context.instance is not None:
        context.instance.record()
    return sine_frame(query, model)


@plugin.query("slow")
async def slow(query: Query, model: SineQuery, context: RequestContext) -> Frame:
    await asyncio.sleep(model.duration_ms / 1000)
    if context.instance is not None:
        context.instance.record()
    return sine_frame(query, model)


@plugin.query("error")
async def error(query: Query, model: SineQuery) -> Frame:
    raise QueryError(model.message)


@plugin.query("table")
async def table(query: Query) -> Frame:
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
    return {"ok": True}


@plugin.resource("echo", methods=["GET", "POST"])
async def echo(request: ResourceRequest) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "query": {key: request.query.getall(key) for key in request.query},
        "headers": {key: value for key, value in request.headers.items()},
        "body": request.text(),
    }


@plugin.resource("stream")
async def stream(request: ResourceRequest) -> ResourceResponse:
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
    return {"id": item_id, "name": f"item {item_id}"}


@plugin.check_health
async def health(context: RequestContext) -> HealthResult:
    datasource = context.datasource
    if datasource is not None and datasource.json_data.get("fail") is True:
        return HealthResult.error("jsonData.fail is set: failing on purpose")
    return HealthResult.ok("quickstart datasource is working")


if __name__ == "__main__":
    plugin.run()
