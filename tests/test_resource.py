"""Resource routing and response normalisation, called transport-free through dispatch."""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from plutono_plugin._asgi import BodyCut
from plutono_plugin.context import PluginContext, RequestContext, User
from plutono_plugin.errors import ResourceError
from plutono_plugin.resource import (
    Headers,
    QueryParams,
    ResourceRequest,
    ResourceResponse,
    ResourceRoute,
    ResourceRouter,
    canonical_header_name,
)
from tests.conftest import MakeRequest


async def chunks_of(response: ResourceResponse) -> list[bytes]:
    return [chunk async for chunk in response.iter_chunks()]


async def json_of(response: ResourceResponse) -> Any:
    assert response.headers["Content-Type"] == "application/json"
    return json.loads(b"".join(await chunks_of(response)))


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@pytest.fixture
def router() -> ResourceRouter:
    router = ResourceRouter()

    @router.route("items/{item_id}", methods=["GET", "DELETE"])
    async def get_item(request: ResourceRequest, item_id: int) -> dict[str, Any]:
        return {"id": item_id, "method": request.method, "params": dict(request.path_params)}

    @router.route("/items/{item_id}/", methods=["PUT"])
    async def put_item(request: ResourceRequest, item_id: int) -> dict[str, Any]:
        return {"id": item_id, "body": request.json()}

    @router.route("files/{rest:path}")
    async def get_file(request: ResourceRequest, rest: str) -> str:
        return f"file {rest}"

    @router.route("colours/{colour}/{ratio}/{key}")
    async def colour(request: ResourceRequest, colour: Colour, ratio: float, key: uuid.UUID) -> str:
        return f"{colour.name} {ratio} {key.hex}"

    @router.route("")
    async def root(request: ResourceRequest) -> str:
        return "root"

    return router


async def test_path_params_are_converted_from_annotations(
    router: ResourceRouter, make_request: MakeRequest
) -> None:
    response = await router.dispatch(make_request("GET", "items/42"))
    assert response.status == 200
    assert await json_of(response) == {"id": 42, "method": "GET", "params": {"item_id": 42}}

    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    response = await router.dispatch(make_request("GET", f"colours/blue/0.5/{key}"))
    assert await chunks_of(response) == [f"BLUE 0.5 {key.hex}".encode()]


async def test_slashes_are_normalised_and_empty_path_reaches_root(
    router: ResourceRouter, make_request: MakeRequest
) -> None:
    response = await router.dispatch(
        make_request(
            "PUT", "/items/7/", body=b'{"name": "x"}', headers={"content-type": "application/json"}
        )
    )
    assert await json_of(response) == {"id": 7, "body": {"name": "x"}}
    assert await chunks_of(await router.dispatch(make_request("GET", ""))) == [b"root"]


async def test_path_catch_all_takes_slashes(
    router: ResourceRouter, make_request: MakeRequest
) -> None:
    response = await router.dispatch(make_request("GET", "files/a/b/c.txt"))
    assert await chunks_of(response) == [b"file a/b/c.txt"]


async def test_unconvertible_param_is_422_naming_it(
    router: ResourceRouter, make_request: MakeRequest
) -> None:
    response = await router.dispatch(make_request("GET", "items/abc"))
    assert response.status == 422
    error = (await json_of(response))["error"]
    assert "item_id" in error and "abc" in error and "int" in error

    response = await router.dispatch(make_request("GET", "colours/green/1/x"))
    assert response.status == 422
    assert "colour" in (await json_of(response))["error"]


async def test_unknown_path_is_404_json(router: ResourceRouter, make_request: MakeRequest) -> None:
    response = await router.dispatch(make_request("GET", "nothing/here"))
    assert response.status == 404
    assert await json_of(response) == {"error": "no resource at 'nothing/here'"}


async def test_wrong_method_is_405_with_allow(
    router: ResourceRouter, make_request: MakeRequest
) -> None:
    response = await router.dispatch(make_request("POST", "items/1"))
    assert response.status == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "DELETE", "PUT"}
    assert "POST" in (await json_of(response))["error"]


async def test_head_answers_like_get_without_body(
    router: ResourceRouter, make_request: MakeRequest
) -> None:
    response = await router.dispatch(make_request("HEAD", "items/1"))
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert await chunks_of(response) == [b""]


async def test_request_offers_query_headers_body_and_user(make_request: MakeRequest) -> None:
    router = ResourceRouter()
    seen: dict[str, Any] = {}

    @router.route("search", methods=["POST"])
    async def search(request: ResourceRequest) -> dict[str, Any]:
        seen.update(
            tags=request.query.getall("tag"),
            limit=request.query.get("limit"),
            missing=request.query.get("missing"),
            auth=request.headers.get("authorization"),
            text=request.text(),
            user=request.user.login if request.user else None,
            url=request.url,
        )
        return {}

    context = RequestContext(plugin=PluginContext(user=User(login="admin")))
    await router.dispatch(
        make_request(
            "POST",
            "search",
            query="tag=a&tag=b+c&limit=5",
            headers={"Authorization": "Bearer t"},
            body="héllo".encode(),
            context=context,
        )
    )
    assert seen == {
        "tags": ["a", "b c"],
        "limit": "5",
        "missing": None,
        "auth": "Bearer t",
        "text": "héllo",
        "user": "admin",
        "url": "search?tag=a&tag=b+c&limit=5",
    }


async def test_invalid_json_body_is_400(router: ResourceRouter, make_request: MakeRequest) -> None:
    response = await router.dispatch(make_request("PUT", "items/1", body=b"{nope"))
    assert response.status == 400
    assert "not valid JSON" in (await json_of(response))["error"]


@pytest.mark.parametrize(
    ("value", "content_type", "body"),
    [
        ({"a": [1, "é"]}, "application/json", '{"a":[1,"é"]}'.encode()),
        ([1, 2], "application/json", b"[1,2]"),
        ("plain", "text/plain; charset=utf-8", b"plain"),
        (b"\x00\x01", "application/octet-stream", b"\x00\x01"),
    ],
)
async def test_return_values_become_responses(
    make_request: MakeRequest, value: object, content_type: str, body: bytes
) -> None:
    router = ResourceRouter()

    async def handler(request: ResourceRequest) -> object:
        return value

    router.add_route("x", handler)
    response = await router.dispatch(make_request("GET", "x"))
    assert (response.status, response.headers.as_lists()) == (200, {"Content-Type": [content_type]})
    assert await chunks_of(response) == [body]


async def test_none_is_204(make_request: MakeRequest) -> None:
    router = ResourceRouter()

    async def handler(request: ResourceRequest) -> None:
        return None

    router.add_route("x", handler, methods=["DELETE"])
    response = await router.dispatch(make_request("DELETE", "x"))
    assert response.status == 204
    assert await chunks_of(response) == [b""]


async def test_response_headers_are_canonical_with_content_type_and_no_set_cookie(
    make_request: MakeRequest, caplog: pytest.LogCaptureFixture
) -> None:
    router = ResourceRouter()

    async def handler(request: ResourceRequest) -> ResourceResponse:
        return ResourceResponse(
            b"data",
            status=201,
            headers=[("x-request-id", "1"), ("cache-control", "no-cache"), ("set-cookie", "a=b")],
        )

    router.add_route("x", handler)
    response = await router.dispatch(make_request("GET", "x"))
    assert response.status == 201
    assert response.headers.as_lists() == {
        "X-Request-Id": ["1"],
        "Cache-Control": ["no-cache"],
        "Content-Type": ["application/octet-stream"],
    }
    assert "Set-Cookie" in caplog.text


async def test_streamed_body_keeps_its_chunks(make_request: MakeRequest) -> None:
    router = ResourceRouter()

    async def lines() -> AsyncIterator[bytes]:
        for index in range(3):
            await asyncio.sleep(0)
            yield f"line {index}\n".encode()

    async def handler(request: ResourceRequest) -> ResourceResponse:
        return ResourceResponse(
            lines(), status=202, content_type="text/plain", headers={"x-n": "3"}
        )

    async def bare(request: ResourceRequest) -> AsyncIterator[bytes]:
        return lines()

    router.add_route("stream", handler)
    router.add_route("bare", bare)
    response = await router.dispatch(make_request("GET", "stream"))
    assert response.streaming and response.status == 202
    assert response.headers.as_lists() == {"Content-Type": ["text/plain"], "X-N": ["3"]}
    assert await chunks_of(response) == [b"line 0\n", b"line 1\n", b"line 2\n"]

    response = await router.dispatch(make_request("GET", "bare"))
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert await chunks_of(response) == [b"line 0\n", b"line 1\n", b"line 2\n"]


async def test_stream_error_before_first_chunk_is_500(make_request: MakeRequest) -> None:
    router = ResourceRouter()

    async def broken(fail: bool = True) -> AsyncIterator[bytes]:
        if fail:
            raise ResourceError("upstream gone", status=502)
        yield b"never"

    async def handler(request: ResourceRequest) -> ResourceResponse:
        return ResourceResponse(broken())

    router.add_route("x", handler)
    response = await router.dispatch(make_request("GET", "x"))
    assert response.status == 502
    assert await json_of(response) == {"error": "upstream gone"}


async def test_stream_error_after_first_chunk_ends_stream_and_logs(
    make_request: MakeRequest, caplog: pytest.LogCaptureFixture
) -> None:
    router = ResourceRouter()

    async def broken() -> AsyncIterator[bytes]:
        yield b"first"
        raise RuntimeError("disk on fire")

    async def handler(request: ResourceRequest) -> ResourceResponse:
        return ResourceResponse(broken())

    router.add_route("x", handler)
    response = await router.dispatch(make_request("GET", "x"))
    assert response.status == 200
    received: list[bytes] = []
    with pytest.raises(BodyCut, match="failed while streaming: RuntimeError: disk on fire"):
        async for chunk in response.iter_chunks():
            received.append(chunk)
    assert received == [b"first"]
    assert "disk on fire" in caplog.text


async def test_empty_stream_still_gives_one_chunk(make_request: MakeRequest) -> None:
    router = ResourceRouter()

    async def nothing() -> AsyncIterator[bytes]:
        empty: list[bytes] = []
        for chunk in empty:
            yield chunk

    async def handler(request: ResourceRequest) -> ResourceResponse:
        return ResourceResponse(nothing(), content_type="text/plain")

    router.add_route("x", handler)
    response = await router.dispatch(make_request("GET", "x"))
    assert await chunks_of(response) == [b""]


@pytest.mark.parametrize("status", [0, 99, 600, 1000, -1])
async def test_invalid_status_becomes_500_and_is_logged(
    make_request: MakeRequest, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    router = ResourceRouter()

    async def bad_status(request: ResourceRequest) -> ResourceResponse:
        return ResourceResponse.json({"ok": True}, status=status)

    router.add_route("x", bad_status)
    with caplog.at_level(logging.ERROR, logger="plutono_plugin.resource"):
        response = await router.dispatch(make_request("GET", "x"))
    assert response.status == 500
    assert str(status) in (await json_of(response))["error"]
    assert "bad_status" in caplog.text and str(status) in caplog.text


async def test_resource_error_with_invalid_status_is_500(make_request: MakeRequest) -> None:
    router = ResourceRouter()

    async def handler(request: ResourceRequest) -> None:
        raise ResourceError("odd", status=0)

    router.add_route("x", handler)
    assert (await router.dispatch(make_request("GET", "x"))).status == 500


async def test_resource_error_sets_status_and_message(make_request: MakeRequest) -> None:
    router = ResourceRouter()

    async def handler(request: ResourceRequest) -> None:
        raise ResourceError("no such dashboard", status=404)

    router.add_route("x", handler)
    response = await router.dispatch(make_request("GET", "x"))
    assert response.status == 404
    assert await json_of(response) == {"error": "no such dashboard"}


async def test_exception_is_500_json_and_traceback_only_logged(
    make_request: MakeRequest, caplog: pytest.LogCaptureFixture
) -> None:
    router = ResourceRouter()

    async def handler(request: ResourceRequest) -> None:
        raise KeyError("missing")

    router.add_route("x", handler)
    response = await router.dispatch(make_request("GET", "x"))
    assert response.status == 500
    body = await json_of(response)
    assert body == {"error": "KeyError: 'missing'"}
    assert "Traceback" in caplog.text and "Traceback" not in json.dumps(body)


async def test_non_string_header_value_is_500_naming_the_header(make_request: MakeRequest) -> None:
    router = ResourceRouter()

    async def handler(request: ResourceRequest) -> ResourceResponse:
        return ResourceResponse(b"", headers={"X-Count": 3})  # type: ignore[arg-type]

    router.add_route("x", handler)
    response = await router.dispatch(make_request("GET", "x"))
    assert response.status == 500
    assert "X-Count" in (await json_of(response))["error"]


async def test_unusable_return_value_is_500(make_request: MakeRequest) -> None:
    router = ResourceRouter()

    async def handler(request: ResourceRequest) -> object:
        return {"when": object()}

    async def number(request: ResourceRequest) -> object:
        return 42

    router.add_route("x", handler)
    router.add_route("n", number)
    for path in ("x", "n"):
        response = await router.dispatch(make_request("GET", path))
        assert response.status == 500
        assert "unusable" in (await json_of(response))["error"]


def test_decorator_returns_handler_unchanged() -> None:
    router = ResourceRouter()

    async def handler(request: ResourceRequest) -> str:
        return "x"

    assert router.route("x")(handler) is handler
    assert [route.path for route in router.routes if isinstance(route, ResourceRoute)] == ["x"]


def test_registration_errors_name_the_problem() -> None:
    router = ResourceRouter()

    class NotCallable:
        pass

    async def ok(request: ResourceRequest, item_id: int) -> str:
        return ""

    async def extra(request: ResourceRequest, item_id: int, other: str) -> str:
        return ""

    async def no_request() -> str:
        return ""

    async def weird(request: ResourceRequest, item_id: list[int]) -> str:
        return ""

    with pytest.raises(TypeError, match=r"NotCallable"):
        router.add_route("x", NotCallable())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="braces"):
        router.add_route("items/{item_id", ok)
    with pytest.raises(ValueError, match="not a parameter name"):
        router.add_route("items/{1x}", ok)
    with pytest.raises(TypeError, match="'item_id'"):
        router.add_route("items", ok)
    with pytest.raises(TypeError, match="'other'"):
        router.add_route("items/{item_id}", extra)
    assert router.add_route("x", no_request).binding.slots == {}  # takes nothing: fine
    with pytest.raises(TypeError, match="unsupported path parameter type"):
        router.add_route("items/{item_id}", weird)
    router.add_route("items/{item_id}", ok, methods=["GET", "POST"])
    with pytest.raises(ValueError, match="already has a handler for POST"):
        router.add_route("/items/{item_id}/", ok, methods=["post"])
    router.add_route("items/{item_id}", ok, methods=["DELETE"])  # other method: fine


def test_canonical_header_names_follow_go() -> None:
    assert canonical_header_name("content-type") == "Content-Type"
    assert canonical_header_name("x-plutono-org-id") == "X-Plutono-Org-Id"
    assert canonical_header_name("ETAG") == "Etag"
    assert canonical_header_name("bad header") == "bad header"


def test_headers_are_case_insensitive_multi_maps() -> None:
    headers = Headers({"accept": ["a", "b"], "X-Trace": "t"})
    assert headers["ACCEPT"] == "a" and headers.getall("Accept") == ["a", "b"]
    assert "x-trace" in headers and len(headers) == 2
    assert list(headers) == ["Accept", "X-Trace"]
    assert list(headers.items()) == [("Accept", "a"), ("Accept", "b"), ("X-Trace", "t")]
    assert ("Accept", "b") in headers.items() and dict(headers) == {"Accept": "a", "X-Trace": "t"}
    assert headers.get("missing") is None and headers.getall("missing") == []
    assert headers.with_value("accept", "c").getall("Accept") == ["c"]
    assert "Accept" not in headers.without("ACCEPT")
    assert Headers({"Authorization": "secret"}) != Headers({"Authorization": "other"})
    assert "secret" not in repr(Headers({"authorization": "secret"}))
    assert QueryParams("a=1&a=2&b=").getall("a") == ["1", "2"] and QueryParams("b=")["b"] == ""
