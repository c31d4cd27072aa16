"""A real Starlette app mounted on the resource router, called transport-free through dispatch."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from plutono_plugin._asgi import Message, Receive, Scope, Send
from plutono_plugin.context import PluginContext, RequestContext
from plutono_plugin.resource import (
    ASGI_CONTEXT_KEY,
    ResourceRequest,
    ResourceResponse,
    ResourceRouter,
)
from tests.conftest import MakeRequest

CHUNKS = [b"alpha\n", b"beta\n", b"gamma\n"]


async def chunks_of(response: ResourceResponse) -> list[bytes]:
    return [chunk async for chunk in response.iter_chunks()]


class Events:
    """What the Starlette app saw, for assertions."""

    lifespan_started = False
    stream_finished: asyncio.Event | None = None


def build_app() -> Starlette:
    async def get_item(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "id": request.path_params["item_id"],
                "q": request.query_params.getlist("q"),
                "path": request.url.path,
                "root_path": request.scope["root_path"],
                "custom": request.headers.get("x-custom"),
                "authorization": request.headers.get("authorization"),
                "client": request.client.host if request.client else None,
            }
        )

    async def create(request: Request) -> JSONResponse:
        payload = await request.json()
        return JSONResponse({"created": payload}, status_code=201, headers={"X-Made": "yes"})

    async def stream(request: Request) -> StreamingResponse:
        async def generate() -> AsyncIterator[bytes]:
            try:
                for chunk in CHUNKS:
                    await asyncio.sleep(0.01)
                    yield chunk
            finally:
                if Events.stream_finished is not None:
                    Events.stream_finished.set()

        return StreamingResponse(generate(), media_type="text/plain")

    async def whoami(request: Request) -> PlainTextResponse:
        context: RequestContext = request.scope[ASGI_CONTEXT_KEY]
        return PlainTextResponse(f"org {context.plugin.org_id}")

    async def cookie(request: Request) -> Response:
        response = PlainTextResponse("with cookie")
        response.set_cookie("session", "abc")
        return response

    async def boom(request: Request) -> Response:
        raise RuntimeError("starlette route failed")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        Events.lifespan_started = True
        yield

    return Starlette(
        routes=[
            Route("/items/{item_id:int}", get_item),
            Route("/items", create, methods=["POST"]),
            Route("/stream", stream),
            Route("/whoami", whoami),
            Route("/cookie", cookie),
            Route("/boom", boom),
        ],
        lifespan=lifespan,
    )


@pytest.fixture
async def router() -> AsyncIterator[ResourceRouter]:
    router = ResourceRouter()
    router.mount_asgi("api", build_app())

    async def native(request: ResourceRequest) -> str:
        return "native"

    router.add_route("native", native)
    yield router
    await router.aclose()


async def test_json_route_with_params_query_and_headers(
    router: ResourceRouter, make_request: MakeRequest
) -> None:
    response = await router.dispatch(
        make_request(
            "GET",
            "api/items/7",
            query="q=a&q=b",
            headers={
                "X-Custom": "hello",
                "Authorization": "Bearer key",
                "X-Forwarded-For": "10.0.0.9",
            },
        )
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert "content-type" not in response.headers.as_lists()  # canonical names only
    assert json.loads(b"".join(await chunks_of(response))) == {
        "id": 7,
        "q": ["a", "b"],
        "path": "/api/items/7",
        "root_path": "/api",
        "custom": "hello",
        "authorization": "Bearer key",
        "client": "10.0.0.9",
    }


async def test_post_body_reaches_the_app(router: ResourceRouter, make_request: MakeRequest) -> None:
    response = await router.dispatch(
        make_request(
            "POST",
            "api/items",
            body=b'{"name": "widget"}',
            headers={"Content-Type": "application/json"},
        )
    )
    assert response.status == 201
    assert response.headers["X-Made"] == "yes"
    assert json.loads(b"".join(await chunks_of(response))) == {"created": {"name": "widget"}}


async def test_streaming_response_keeps_chunks(
    router: ResourceRouter, make_request: MakeRequest
) -> None:
    response = await router.dispatch(make_request("GET", "api/stream"))
    assert response.streaming
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert await chunks_of(response) == CHUNKS


async def test_closing_a_stream_early_stops_the_app(
    router: ResourceRouter, make_request: MakeRequest
) -> None:
    Events.stream_finished = asyncio.Event()
    try:
        response = await router.dispatch(make_request("GET", "api/stream"))
        chunks = response.iter_chunks()
        assert await anext(chunks) == CHUNKS[0]
        await chunks.aclose()
        await response.aclose()  # what the adapter does when the browser goes away
        await asyncio.wait_for(Events.stream_finished.wait(), 5)
    finally:
        Events.stream_finished = None


async def test_context_is_in_the_scope(router: ResourceRouter, make_request: MakeRequest) -> None:
    context = RequestContext(plugin=PluginContext(org_id=3))
    response = await router.dispatch(make_request("GET", "api/whoami", context=context))
    assert await chunks_of(response) == [b"org 3"]


async def test_app_404_and_500_and_native_routes_beside_the_mount(
    router: ResourceRouter, make_request: MakeRequest, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await router.dispatch(make_request("GET", "api/missing"))).status == 404
    with caplog.at_level(logging.ERROR, logger="plutono_plugin.resource"):
        response = await router.dispatch(make_request("GET", "api/boom"))
        assert response.status == 500
        await chunks_of(response)
        for _ in range(10):  # the app re-raises after sending its 500; logged by its task
            if "starlette route failed" in caplog.text:
                break
            await asyncio.sleep(0.01)
    assert "starlette route failed" in caplog.text
    assert await chunks_of(await router.dispatch(make_request("GET", "native"))) == [b"native"]
    assert (await router.dispatch(make_request("GET", "apix"))).status == 404


async def test_set_cookie_is_dropped_and_lifespan_not_run(
    router: ResourceRouter, make_request: MakeRequest
) -> None:
    response = await router.dispatch(make_request("GET", "api/cookie"))
    assert response.status == 200
    assert "Set-Cookie" not in response.headers
    assert Events.lifespan_started is False


async def raw_app_sending(messages: list[Message], scope: Scope, send: Send) -> None:
    for message in messages:
        await send(message)


@pytest.mark.parametrize(
    ("messages", "error_part"),
    [
        ([], "without completing"),
        ([{"type": "http.response.start", "status": 0, "headers": []}], "invalid HTTP status 0"),
        ([{"type": "http.response.body", "body": b"x"}], "before 'http.response.start'"),
        (
            [
                {"type": "http.response.start", "status": 200, "headers": [("x-a", "b")]},
                {"type": "http.response.body", "body": b"x"},
            ],
            "malformed response headers",
        ),
        (
            [
                {"type": "http.response.start", "status": 200, "headers": []},
                {"type": "http.response.body", "body": "text"},
            ],
            "a body of type str",
        ),
    ],
)
async def test_broken_raw_apps_give_500(
    make_request: MakeRequest, messages: list[Message], error_part: str
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await raw_app_sending(messages, scope, send)
        if messages and messages[0].get("status") == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    router = ResourceRouter()
    router.mount_asgi("", app)
    response = await router.dispatch(make_request("GET", "anything"))
    assert response.status == 500
    body: dict[str, Any] = json.loads(b"".join(await chunks_of(response)))
    assert error_part in body["error"]
    await router.aclose()


async def test_raw_app_sees_scope_and_full_body(make_request: MakeRequest) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope)
        seen["received"] = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    router = ResourceRouter()
    router.mount_asgi("/raw/", app)
    response = await router.dispatch(
        make_request("PUT", "raw/x", query="a=%20b", body=b"payload", headers={"X-A": "1"})
    )
    assert await chunks_of(response) == [b"ok"]
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert seen["method"] == "PUT" and seen["path"] == "/raw/x" and seen["root_path"] == "/raw"
    assert seen["query_string"] == b"a=%20b"
    assert seen["headers"] == [(b"x-a", b"1")]
    assert seen["http_version"] == "1.1" and seen["scheme"] == "http"
    assert seen["received"] == {"type": "http.request", "body": b"payload", "more_body": False}
    await router.aclose()


def test_mount_registration_errors() -> None:
    router = ResourceRouter()
    router.mount_asgi("api", build_app())
    with pytest.raises(ValueError, match="already mounted"):
        router.mount_asgi("/api/", build_app())
    with pytest.raises(ValueError, match="path parameters"):
        router.mount_asgi("{x}", build_app())
