"""A plugin for the data-plane tests: behaviours the quickstart example should not carry.

Queries observe cancellation (log ``query cancelled`` and count it), fail with plain exceptions,
time out per route and echo what the host sent (context, headers, alerting fields). Resources
return invalid statuses, raise, return each body type, and an ASGI app is mounted at ``asgi``.
Health is steered by the datasource's ``jsonData.health``; the instance factory by
``jsonData.factory`` and logs each disposal.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from plutono_plugin import (
    DataSourceSettings,
    Field,
    Frame,
    HealthResult,
    HealthStatus,
    Plugin,
    Query,
    RequestContext,
    ResourceRequest,
    ResourceResponse,
)

log = logging.getLogger("dataplane")
plugin = Plugin()

CANCELLED = Counter("dataplane_cancelled_queries", "Query handlers that were cancelled.")
GENERATIONS = itertools.count(1)


@dataclass
class Slow:
    duration_ms: int = 0


@dataclass
class Instance:
    datasource_id: int
    generation: int


@plugin.instance
async def build_instance(settings: DataSourceSettings) -> AsyncIterator[Instance]:
    behaviour = settings.json_data.get("factory")
    if behaviour == "fail":
        raise ConnectionError("upstream refused the connection")
    if behaviour == "slow":
        await asyncio.sleep(0.2)
    instance = Instance(settings.id, next(GENERATIONS))
    log.info("instance created", extra={"generation": instance.generation})
    try:
        yield instance
    finally:
        log.info("instance disposed", extra={"generation": instance.generation})


@plugin.query("slow")
async def slow(query: Query, model: Slow) -> Frame:
    try:
        await asyncio.sleep(model.duration_ms / 1000)
    except asyncio.CancelledError:
        CANCELLED.inc()
        log.info("query cancelled", extra={"refId": query.ref_id})
        raise
    return Frame(query.ref_id, [Field("slept_ms", [model.duration_ms], type="int64")])


@plugin.query("timeout", timeout=0.2)
async def times_out(query: Query) -> Frame:
    await asyncio.sleep(10)
    return Frame(query.ref_id, [])


@plugin.query("crash")
async def crash(query: Query) -> Frame:
    raise RuntimeError(f"handler crashed on {query.ref_id}")


@plugin.query("context")
async def context_echo(query: Query, context: RequestContext) -> Frame:
    log.info("serving with %s", context)
    user = context.user
    return Frame(
        query.ref_id,
        [
            Field("from_alert", [context.from_alert]),
            Field("user", [user.login if user else ""]),
            Field("interval_ms", [query.interval_ms], type="int64"),
            Field("max_data_points", [query.max_data_points], type="int64"),
            Field("generation", [context.instance.generation if context.instance else 0]),
        ],
    )


@plugin.resource("status/{code}")
async def status(request: ResourceRequest, code: int) -> ResourceResponse:
    return ResourceResponse(b"odd status", status=code)


@plugin.resource("boom", methods=["GET", "POST"])
async def boom(request: ResourceRequest) -> dict[str, Any]:
    raise ValueError("the resource handler broke")


@plugin.resource("bytes")
async def raw_bytes(request: ResourceRequest) -> bytes:
    return bytes(range(256))


@plugin.resource("text")
async def text(request: ResourceRequest) -> str:
    return "plain text ✓"


@plugin.resource("headers")
async def headers(request: ResourceRequest) -> ResourceResponse:
    return ResourceResponse(
        b"<p>hi</p>",
        headers={"content-type": "text/html", "x-request-id": "abc", "set-cookie": "a=b"},
    )


@plugin.resource("chunks")
async def chunks(request: ResourceRequest) -> AsyncIterator[bytes]:
    async def parts() -> AsyncIterator[bytes]:
        for index in range(3):
            yield f"part {index};".encode()
            await asyncio.sleep(0.05)

    return parts()  # an async iterator is a streamed body


async def asgi_item(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "id": int(request.path_params["item_id"]),
            "q": request.query_params.get("q"),
            "path": request.url.path,
        }
    )


async def asgi_stream(request: Request) -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        for index in range(3):
            yield f"line {index}\n".encode()
            await asyncio.sleep(0.05)

    return StreamingResponse(lines(), media_type="text/plain")


plugin.mount_asgi(
    "asgi",
    Starlette(
        routes=[
            Route("/items/{item_id:int}", asgi_item),
            Route("/stream", asgi_stream),
        ]
    ),
)


@plugin.check_health
async def health(context: RequestContext) -> HealthResult | HealthStatus | None:
    datasource = context.datasource
    mode = datasource.json_data.get("health") if datasource else None
    if mode == "raise":
        raise ConnectionError("cannot reach upstream")
    if mode == "details":
        return HealthResult.ok("fine", details={"version": "1.2", "nodes": [1, 2]})
    if mode == "bad-details":
        return HealthResult.ok("fine", details=[1, 2])  # type: ignore[arg-type]
    if mode == "status":
        return HealthStatus.ERROR
    return None


if __name__ == "__main__":
    plugin.run()
