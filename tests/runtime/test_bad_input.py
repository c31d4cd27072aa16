"""The bad-input catalogue: what a hostile host or a careless handler does, and what follows.

Every case sends something wrong through the plugin's real services (the in-memory
:class:`PluginTestClient`), checks the answer names the problem, and then checks that a good
call right after it still succeeds: nothing hangs, nothing is lost, the process serves on.
Cases where the transport matters (Go host cancellation, deadlines, oversized requests over
a socket, stderr) are in ``tests/interop/test_robustness.py``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import grpclib.const
import pytest
from grpclib import GRPCError

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
from plutono_plugin._host.requests import default_context, plugin_context_to_proto
from plutono_plugin._proto import pluginv2
from plutono_plugin.testing import CallError, PluginTestClient, target

RESPONSE_LIMIT = 256 * 1024
RECEIVE_LIMIT = 512 * 1024


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def frame(ref_id: str = "", text: str = "x") -> Frame:
    return Frame(ref_id, [Field("value", [1.0]), Field("text", [text])])


@dataclass
class Count:
    count: int


plugin = Plugin(max_query_response_size=RESPONSE_LIMIT, max_receive_message_size=RECEIVE_LIMIT)

RAISES: Mapping[str, BaseException] = {
    "base_exception": BaseException("raw base"),
    "system_exit": SystemExit(3),
    "keyboard_interrupt": KeyboardInterrupt(),
    "generator_exit": GeneratorExit(),
    "cancelled": asyncio.CancelledError(),
    "unprintable": Unprintable(),
    "query_error_int": QueryError(12345),  # type: ignore[arg-type]
    "surrogate_error": QueryError("bad \udcff byte"),
    "recursion": RecursionError("too deep"),
    "memory": MemoryError(),
    "group": BaseExceptionGroup("many", [KeyboardInterrupt(), ValueError("v")]),
}


@plugin.query("ok")
async def ok(query: Query) -> Frame:
    return frame(text="fine")


@plugin.query("raise")
async def raising(query: Query) -> Frame:
    raise RAISES[query.json["what"]]


@plugin.query("sync_raise")
def sync_raising(query: Query) -> Frame:
    raise RAISES[query.json["what"]]


@plugin.query("surrogate_frame")
async def surrogate_frame(query: Query) -> Frame:
    return frame(text="lone \ud800 surrogate")


@plugin.query("huge")
async def huge(query: Query) -> Frame:
    return Frame("", [Field("value", [float(i) for i in range(RESPONSE_LIMIT // 4)])])


@plugin.query("returns_int")
async def returns_int(query: Query) -> Any:
    return 7


@plugin.query("returns_junk_list")
async def returns_junk_list(query: Query) -> Any:
    return [frame(), "not a frame"]


@plugin.query("slow", timeout=0.05)
async def slow(query: Query) -> Frame:
    await asyncio.sleep(5)
    return frame()


@plugin.query("model")
async def model(query: Query, body: Count) -> Frame:
    return frame()


@plugin.query("settings")
async def settings(query: Query, context: RequestContext) -> Frame:
    assert context.datasource is not None
    return frame(text=json.dumps(context.datasource.json_data))


@plugin.query("batch_junk", batch=True)
async def batch_junk(queries: list[Query]) -> Any:
    return ["not", "a", "mapping"]


@plugin.query("batch_missing", batch=True)
async def batch_missing(queries: list[Query]) -> Any:
    return {}


@plugin.instance
async def instance(settings: DataSourceSettings) -> AsyncIterator[str]:
    if settings.name == "exit-factory":
        raise SystemExit("factory quits")
    yield settings.name


@plugin.resource("ok")
async def resource_ok(request: ResourceRequest) -> dict[str, bool]:
    return {"ok": True}


@plugin.resource("sync")
def resource_sync(request: ResourceRequest) -> dict[str, str]:
    time.sleep(0.01)  # blocking, but in a worker thread
    return {"thread": "yes"}


@plugin.resource("raise")
async def resource_raise(request: ResourceRequest) -> str:
    raise RAISES[request.query["what"]]


@plugin.resource("json", methods=["POST"])
async def resource_json(request: ResourceRequest) -> Any:
    return request.json()


@plugin.resource("crlf")
async def resource_crlf(request: ResourceRequest) -> ResourceResponse:
    return ResourceResponse.text(
        "body", headers={"X-Injected": "a\r\nSet-Cookie: stolen=1", "X-Fine": "yes"}
    )


@plugin.resource("status_zero")
async def resource_status_zero(request: ResourceRequest) -> ResourceResponse:
    return ResourceResponse.text("x", status=0)


@plugin.resource("items/{item_id}")
async def resource_item(request: ResourceRequest, item_id: int) -> dict[str, int]:
    return {"id": item_id}


async def _fail_before_first_chunk() -> AsyncIterator[bytes]:
    raise SystemExit("no body")
    yield b""  # type: ignore[unreachable]  # makes this an async generator


async def _fail_after_first_chunk() -> AsyncIterator[bytes]:
    yield b"first"
    raise KeyboardInterrupt


@plugin.resource("stream_before")
async def resource_stream_before(request: ResourceRequest) -> ResourceResponse:
    return ResourceResponse(_fail_before_first_chunk())


@plugin.resource("stream_after")
async def resource_stream_after(request: ResourceRequest) -> ResourceResponse:
    return ResourceResponse(_fail_after_first_chunk())


@plugin.check_health
async def health(context: RequestContext) -> HealthResult:
    datasource = context.datasource
    mode = datasource.json_data.get("mode", "ok") if datasource is not None else "ok"
    if mode in RAISES:
        raise RAISES[mode]
    if mode == "wrong_type":
        return "all good"  # type: ignore[return-value]
    return HealthResult.ok("fine")


def context_with(json_data: bytes = b"{}", name: str = "dev", datasource_id: int = 1) -> Any:
    context = default_context("test-datasource", "datasource", now_ms=1)
    assert context.datasource is not None
    settings = replace(context.datasource, raw_json_data=json_data, name=name, id=datasource_id)
    return replace(context, datasource=settings)


async def good_calls_still_work(client: PluginTestClient) -> None:
    """What every case ends with: each kind of call answers normally."""
    answers = await client.query(target("G", query_type="ok"))
    assert answers["G"].error == "" and answers["G"].frames[0].fields[1].values == ["fine"]
    assert (await client.call_resource("GET", "ok")).json() == {"ok": True}
    assert (await client.check_health()).ok


@pytest.fixture
async def client() -> AsyncIterator[PluginTestClient]:
    async with PluginTestClient(plugin) as test_client:
        yield test_client


# -- queries: a handler failing in every way becomes that refId's error -----------------------

QUERY_CASES = [
    pytest.param(target("A", query_type="raise", what=name), text, id=f"raise-{name}")
    for name, text in [
        ("base_exception", "BaseException: raw base"),
        ("system_exit", "SystemExit: 3"),
        ("keyboard_interrupt", "KeyboardInterrupt"),
        ("generator_exit", "GeneratorExit"),
        ("cancelled", "CancelledError"),
        ("unprintable", "<unprintable Unprintable: RuntimeError>"),
        ("query_error_int", "12345"),
        ("surrogate_error", "bad ? byte"),
        ("recursion", "RecursionError: too deep"),
        ("memory", "MemoryError"),
        ("group", "BaseExceptionGroup"),
    ]
] + [
    pytest.param(target("A", query_type="sync_raise", what="system_exit"), "SystemExit: 3",
                 id="sync-system-exit"),
    pytest.param(target("A", query_type="sync_raise", what="unprintable"), "<unprintable",
                 id="sync-unprintable"),
    pytest.param(target("A", query_type="surrogate_frame"), "cannot encode frame",
                 id="lone-surrogate-in-frame"),
    pytest.param(target("A", query_type="huge"), f"limit of {RESPONSE_LIMIT} bytes",
                 id="response-over-the-size-limit"),
    pytest.param(target("A", query_type="returns_int"), "handler returned int",
                 id="handler-returns-int"),
    pytest.param(target("A", query_type="returns_junk_list"), "a str among its frames",
                 id="handler-returns-junk-in-list"),
    pytest.param(target("A", query_type="slow"), "timed out after 0.05 s", id="route-timeout"),
    pytest.param(target("A", query_type="nobody"), "no handler for query type 'nobody'",
                 id="unknown-query-type"),
    pytest.param(target("A", query_type="model", count="many"), "invalid query",
                 id="model-validation"),
    pytest.param(target("A", query_type="batch_junk"), "expected a mapping",
                 id="batch-returns-non-mapping"),
    pytest.param(target("A", query_type="batch_missing"), "no response for refId 'A'",
                 id="batch-misses-refid"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), QUERY_CASES)
async def test_a_failing_query_is_its_refids_error_and_siblings_answer(
    client: PluginTestClient, query: dict[str, Any], expected: str
) -> None:
    answers = await client.query(query, target("B", query_type="ok"))
    assert expected in answers["A"].error
    assert answers["A"].error.encode("utf-8")  # valid UTF-8: protobuf carried it
    assert answers["B"].error == "" and answers["B"].frames
    await good_calls_still_work(client)


async def raw_query(client: PluginTestClient, *queries: pluginv2.DataQuery, **context: Any) -> Any:
    request = pluginv2.QueryDataRequest(
        plugin_context=plugin_context_to_proto(context_with(**context)), queries=list(queries)
    )
    return await pluginv2.DataStub(client.channel).query_data(request)


def data_query(ref_id: str, raw: bytes = b"{}", **fields: Any) -> pluginv2.DataQuery:
    return pluginv2.DataQuery(ref_id=ref_id, query_type="ok", json=raw, **fields)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            data_query("A", time_range=pluginv2.TimeRange(from_epoch_ms=2**62, to_epoch_ms=1)),
            "outside the representable range",
            id="time-range-beyond-year-9999",
        ),
        pytest.param(
            data_query("A", time_range=pluginv2.TimeRange(from_epoch_ms=0, to_epoch_ms=-(2**62))),
            "outside the representable range",
            id="time-range-before-year-1",
        ),
        pytest.param(
            replace(data_query("A", b"{not json"), query_type="model"),
            "query JSON is not valid",
            id="invalid-json",
        ),
        pytest.param(
            replace(data_query("A", b"[1, 2]"), query_type="model"),
            "must be an object, got list",
            id="json-array",
        ),
        pytest.param(
            replace(data_query("A", b'{"count": ' + b"[" * 100_000), query_type="model"),
            "nested too deeply",
            id="deeply-nested-json",
        ),
    ],
)
async def test_malformed_queries_fail_only_their_refid(
    client: PluginTestClient, query: pluginv2.DataQuery, expected: str
) -> None:
    reply = await raw_query(client, query, data_query("B"))
    assert expected in reply.responses["A"].error
    assert reply.responses["B"].error == "" and reply.responses["B"].frames
    await good_calls_still_work(client)


@pytest.mark.parametrize(
    ("json_data", "expected"),
    [
        pytest.param(b"{broken", "jsonData is not valid JSON", id="settings-invalid-json"),
        pytest.param(b"[" * 100_000, "jsonData is nested too deeply", id="settings-deep-json"),
        pytest.param(b'"a string"', "jsonData must be a JSON object", id="settings-not-object"),
    ],
)
async def test_bad_datasource_settings_are_the_querys_error(
    client: PluginTestClient, json_data: bytes, expected: str
) -> None:
    reply = await raw_query(client, replace(data_query("A"), query_type="settings"),
                            json_data=json_data)  # fmt: skip
    assert expected in reply.responses["A"].error
    await good_calls_still_work(client)


async def test_a_factory_raising_system_exit_fails_the_call_not_the_process(
    client: PluginTestClient,
) -> None:
    reply = await raw_query(client, data_query("A"), name="exit-factory", datasource_id=9)
    assert "cannot create the instance" in reply.responses["A"].error
    assert "SystemExit: factory quits" in reply.responses["A"].error
    await good_calls_still_work(client)


async def test_a_huge_last_updated_time_is_unknown_not_a_failure(
    client: PluginTestClient,
) -> None:
    context = context_with()
    settings = replace(context.datasource, last_updated_ms=2**62)
    reply = await client.query(
        target("A", query_type="ok"), context=replace(context, datasource=settings)
    )
    assert reply["A"].error == ""
    await good_calls_still_work(client)


# -- resources: a 500 (or a clean, shorter answer), never a lost call -------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "expected"),
    [
        pytest.param("GET", "raise?what=system_exit", b"", 500, "SystemExit: 3", id="system-exit"),
        pytest.param("GET", "raise?what=keyboard_interrupt", b"", 500, "KeyboardInterrupt",
                     id="keyboard-interrupt"),
        pytest.param("GET", "raise?what=base_exception", b"", 500, "BaseException",
                     id="base-exception"),
        pytest.param("GET", "raise?what=cancelled", b"", 500, "CancelledError",
                     id="handler-raises-cancelled"),
        pytest.param("GET", "raise?what=unprintable", b"", 500, "<unprintable", id="unprintable"),
        pytest.param("POST", "json", b"[" * 100_000, 400, "nested too deeply", id="deep-json-body"),
        pytest.param("POST", "json", b"{nope", 400, "not valid JSON", id="invalid-json-body"),
        pytest.param("GET", "status_zero", b"", 500, "invalid HTTP status 0", id="status-zero"),
        pytest.param("GET", "stream_before", b"", 500, "SystemExit: no body",
                     id="stream-fails-before-first-chunk"),
        pytest.param("GET", "nowhere", b"", 404, "no resource at 'nowhere'", id="unknown-path"),
        pytest.param("GET", "items/abc", b"", 422, "must be int", id="bad-path-parameter"),
        pytest.param("DELETE", "ok", b"", 405, "not allowed", id="wrong-method"),
    ],
)  # fmt: skip
async def test_a_failing_resource_call_answers_a_status_naming_the_problem(
    client: PluginTestClient, method: str, path: str, body: bytes, status: int, expected: str
) -> None:
    reply = await client.call_resource(method, path, body=body)
    assert reply.status == status
    assert expected in reply.json()["error"]
    await good_calls_still_work(client)


async def test_a_stream_failing_after_its_first_chunk_ends_early_and_not_as_a_success(
    client: PluginTestClient,
) -> None:
    # The status went out with the first chunk; the call then ends with an error status, so
    # Plutono appends its error to the partial body (contract 2.4.4) instead of a clean end.
    with pytest.raises(CallError) as raised:
        await client.call_resource("GET", "stream_after")
    assert raised.value.status == "UNKNOWN"
    assert "failed while streaming: KeyboardInterrupt" in raised.value.detail
    await good_calls_still_work(client)


async def test_header_values_with_cr_lf_are_dropped(client: PluginTestClient) -> None:
    reply = await client.call_resource("GET", "crlf")
    assert reply.status == 200 and reply.text == "body"
    assert "X-Injected" not in reply.headers and "Set-Cookie" not in reply.headers
    assert reply.headers["X-Fine"] == ["yes"]
    await good_calls_still_work(client)


async def test_a_blocking_sync_resource_handler_runs_in_a_thread(client: PluginTestClient) -> None:
    replies = await asyncio.gather(*(client.call_resource("GET", "sync") for _ in range(8)))
    assert all(reply.json() == {"thread": "yes"} for reply in replies)
    await good_calls_still_work(client)


# -- health: ERROR with the reason ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("json_data", "expected"),
    [
        pytest.param(b'{"mode": "system_exit"}', "SystemExit: 3", id="health-system-exit"),
        pytest.param(b'{"mode": "keyboard_interrupt"}', "KeyboardInterrupt", id="health-kbint"),
        pytest.param(b'{"mode": "unprintable"}', "<unprintable", id="health-unprintable"),
        pytest.param(b'{"mode": "cancelled"}', "CancelledError", id="health-cancelled"),
        pytest.param(b'{"mode": "wrong_type"}', "expected a HealthResult", id="health-wrong-type"),
        pytest.param(b"{broken", "jsonData is not valid JSON", id="health-invalid-settings"),
        pytest.param(b"[" * 100_000, "nested too deeply", id="health-deep-settings"),
    ],
)
async def test_a_failing_health_check_is_error_with_the_reason(
    client: PluginTestClient, json_data: bytes, expected: str
) -> None:
    reply = await client.check_health(context=context_with(json_data))
    assert reply.status == "ERROR" and expected in reply.message
    await good_calls_still_work(client)


# -- the wire: bytes that are not the message they claim to be --------------------------------


class RawBytes:
    """A "message" that serialises to whatever bytes a test chooses."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def SerializeToString(self) -> bytes:  # grpclib's codec calls this name
        return self.data


METHODS = {
    "QueryData": (pluginv2.QueryDataResponse, grpclib.const.Cardinality.UNARY_UNARY),
    "CheckHealth": (pluginv2.CheckHealthResponse, grpclib.const.Cardinality.UNARY_UNARY),
    "CollectMetrics": (pluginv2.CollectMetricsResponse, grpclib.const.Cardinality.UNARY_UNARY),
    "CallResource": (pluginv2.CallResourceResponse, grpclib.const.Cardinality.UNARY_STREAM),
}
SERVICES = {"QueryData": "Data", "CheckHealth": "Diagnostics", "CollectMetrics": "Diagnostics",
            "CallResource": "Resource"}  # fmt: skip


async def send_raw(client: PluginTestClient, method: str, data: bytes) -> None:
    reply_type, cardinality = METHODS[method]
    path = f"/pluginv2.{SERVICES[method]}/{method}"
    channel: Any = client.channel
    async with channel.request(path, cardinality, RawBytes, reply_type) as stream:
        await stream.send_message(RawBytes(data), end=True)
        async for _ in stream:
            pass


def fuzz_inputs(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    valid = bytes(pluginv2.QueryDataRequest(queries=[pluginv2.DataQuery(ref_id="A", json=b"{}")]))
    mutated = bytearray(valid)
    for _ in range(4):
        mutated[rng.randrange(len(mutated))] = rng.randrange(256)
    return [
        rng.randbytes(rng.randrange(1, 64)),
        bytes(mutated),
        valid[: rng.randrange(1, len(valid))],
        b"\x0a\xff\xff\xff\xff\x0f",  # a length-delimited field claiming 4 GiB
    ]


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("seed", range(3))
async def test_protobuf_fuzz_gets_a_clear_status_and_the_plugin_serves_on(
    client: PluginTestClient, method: str, seed: int
) -> None:
    for data in fuzz_inputs(seed * 31 + len(method)):
        try:
            await send_raw(client, method, data)
        except GRPCError as error:
            # Either the bytes decode (and the call answers) or they are refused by name.
            assert error.status.name == "INVALID_ARGUMENT", error
            assert "is not a valid" in (error.message or "")
    await good_calls_still_work(client)


async def test_an_oversized_request_is_refused_naming_both_sizes(client: PluginTestClient) -> None:
    big = "x" * (RECEIVE_LIMIT + 1)
    with pytest.raises(CallError) as raised:
        await client.query(target("A", query_type="ok", padding=big))
    assert raised.value.status == "RESOURCE_EXHAUSTED"
    assert f"limit of {RECEIVE_LIMIT} bytes" in raised.value.detail
    await good_calls_still_work(client)
