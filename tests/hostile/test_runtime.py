"""Hostile-input catalogue, runtime part (issues 16 and 17): each case failed on the old code.

Every case goes through the plugin's real services (the in-memory :class:`PluginTestClient`,
whose channel uses the plugin's own codec), checks that the answer names the problem, and
that the plugin serves on. Cases that need a process or the Go host are in
``tests/interop/test_hardening.py``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
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
    RequestContext,
)
from plutono_plugin._asgi import Receive, Scope, Send
from plutono_plugin._host.requests import default_context, plugin_context_to_proto
from plutono_plugin._proto import pluginv2
from plutono_plugin.context import PluginContext, Secrets
from plutono_plugin.options import OptionsDecoder
from plutono_plugin.testing import CallError, PluginTestClient, target


class Custom(BaseException):
    """A BaseException of the app's own."""


ASGI_RAISES: dict[str, BaseException] = {
    "system_exit": SystemExit(4),
    "keyboard_interrupt": KeyboardInterrupt(),
    "custom": Custom("own base exception"),
    "cancelled": asyncio.CancelledError("by the app"),
}


async def hostile_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Raises what the path names; ``cut/<name>`` raises it after the first body chunk."""
    path = str(scope["path"]).rsplit("/", 1)[-1]
    if str(scope["path"]).startswith("/asgi/cut/"):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    if path in ASGI_RAISES:
        raise ASGI_RAISES[path]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"fine"})


@dataclass
class Options:
    row_limit: int = 10
    label: str = ""


SYNC_LIMIT = 2
RUNNING = {"now": 0, "peak": 0}
RUNNING_LOCK = threading.Lock()
RELEASE = threading.Event()

plugin = Plugin(options=Options, max_sync_handlers=SYNC_LIMIT)
plugin.mount_asgi("asgi", hostile_app)
DISPOSED: list[str] = []


@plugin.instance
async def instance(settings: DataSourceSettings, options: Options) -> AsyncIterator[dict[str, Any]]:
    yield {"label": options.label, "secret": settings.decrypted_secure_json_data.get("key", "")}
    DISPOSED.append(options.label)
    if options.label in ("exit", "interrupt"):
        raise SystemExit(6) if options.label == "exit" else KeyboardInterrupt()


@plugin.query("ok")
async def ok(query: Query, context: RequestContext) -> Frame:
    held: dict[str, Any] = context.instance
    return Frame("", [Field("label", [held["label"]]), Field("secret", [held["secret"]])])


@plugin.query("sync_stuck", timeout=0.05)
def sync_stuck(query: Query) -> Frame:
    with RUNNING_LOCK:
        RUNNING["now"] += 1
        RUNNING["peak"] = max(RUNNING["peak"], RUNNING["now"])
    try:
        RELEASE.wait(10)
    finally:
        with RUNNING_LOCK:
            RUNNING["now"] -= 1
    return Frame("", [Field("value", [1.0])])


@plugin.check_health
async def health(options: Options) -> HealthResult:
    return HealthResult.ok(f"limit {options.row_limit}")


def context_with(
    json_data: bytes = b"{}", secrets: dict[str, str] | None = None, updated_ms: int = 1
) -> PluginContext:
    context = default_context("test-datasource", "datasource", now_ms=updated_ms)
    assert context.datasource is not None
    settings = replace(
        context.datasource,
        raw_json_data=json_data,
        decrypted_secure_json_data=Secrets(secrets or {}),
        last_updated_ms=updated_ms,
    )
    return replace(context, datasource=settings)


@pytest.fixture
async def client() -> AsyncIterator[PluginTestClient]:
    async with PluginTestClient(plugin) as test_client:
        yield test_client


async def serves_on(client: PluginTestClient) -> None:
    answers = await client.query(target("G", query_type="ok"), context=context_with())
    assert answers["G"].error == "", answers["G"].error
    assert (await client.call_resource("GET", "asgi/fine")).text == "fine"
    assert (await client.check_health(context=context_with())).ok


# -- ASGI apps cannot end the process or leave a call unanswered (issue 17 item 5) ---------------


@pytest.mark.parametrize("name", sorted(ASGI_RAISES))
async def test_an_asgi_app_raising_a_base_exception_answers_500(
    client: PluginTestClient, name: str
) -> None:
    # Before: SystemExit/KeyboardInterrupt left the loop (the process ended), a custom
    # BaseException or CancelledError left the call unanswered until its deadline.
    reply = await asyncio.wait_for(client.call_resource("GET", f"asgi/{name}"), 5)
    assert reply.status == 500
    assert type(ASGI_RAISES[name]).__name__ in reply.json()["error"]
    await serves_on(client)


@pytest.mark.parametrize("name", ["system_exit", "custom"])
async def test_an_asgi_body_cut_by_an_error_does_not_end_as_a_success(
    client: PluginTestClient, name: str
) -> None:
    with pytest.raises(CallError) as raised:
        await asyncio.wait_for(client.call_resource("GET", f"asgi/cut/{name}"), 5)
    assert raised.value.status == "UNKNOWN"
    assert "failed while streaming" in raised.value.detail
    await serves_on(client)


async def test_a_non_latin1_header_name_on_an_asgi_route_is_a_400_naming_it(
    client: PluginTestClient,
) -> None:
    reply = await client.call_resource("GET", "asgi/fine", headers={"X-Näme-€": "v"})
    assert reply.status == 400
    assert "'X-Näme-€' is not latin-1" in reply.json()["error"]
    await serves_on(client)


# -- an instance teardown cannot end the process (issue 17 item 6) -----------------------------


@pytest.mark.parametrize("label", ["exit", "interrupt"])
async def test_a_teardown_raising_systemexit_or_keyboardinterrupt_is_logged(
    client: PluginTestClient, label: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = context_with(f'{{"label": "{label}"}}'.encode(), updated_ms=100)
    assert (await client.query(target("A", query_type="ok"), context=first))["A"].error == ""
    saved = context_with(b'{"label": "after"}', updated_ms=200)  # the datasource was saved
    answers = await client.query(target("A", query_type="ok"), context=saved)
    assert answers["A"].frames[0].fields[0].values == ["after"]
    for _ in range(50):
        if label in DISPOSED and "disposing the instance" in caplog.text:
            break
        await asyncio.sleep(0.02)
    assert "disposing the instance of datasource 'dev' (id 1) failed" in caplog.text
    await serves_on(client)


# -- settings saved within one second take effect (issue 16) -----------------------------------


async def test_settings_saved_twice_within_one_second_take_effect(
    client: PluginTestClient,
) -> None:
    # Plutono stores `updated` in whole seconds: both saves carry the same lastUpdatedMS.
    for label, secret in (("one", "s1"), ("two", "s1"), ("two", "s2")):
        context = context_with(f'{{"label": "{label}"}}'.encode(), {"key": secret}, 5_000)
        answers = await client.query(target("A", query_type="ok"), context=context)
        fields = answers["A"].frames[0].fields
        assert (fields[0].values, fields[1].values) == ([label], [secret])


def test_decoded_options_are_forgotten_after_idle_eviction() -> None:
    decoder = OptionsDecoder(Options, idle_timeout=0.05)
    decoder.decode(DataSourceSettings(1, "a", raw_json_data=b"{}"))
    decoder.decode(DataSourceSettings(2, "b", raw_json_data=b"{}"))
    assert decoder.remembered == 2
    time.sleep(0.1)
    decoder.evict_idle()
    assert decoder.remembered == 0


# -- a huge integer in jsonData is that datasource's error, naming the field (issue 17 item 16) --

HUGE = b'{"rowLimit": ' + b"9" * 5000 + b"}"


async def test_a_5000_digit_integer_in_jsondata_is_a_query_error_naming_the_field(
    client: PluginTestClient,
) -> None:
    answers = await client.query(target("A", query_type="ok"), context=context_with(HUGE))
    assert "jsonData.rowLimit is an integer of 5000 digits" in answers["A"].error
    health = await client.check_health(context=context_with(HUGE))
    assert health.status == "ERROR" and "jsonData.rowLimit" in health.message
    await serves_on(client)


# -- wire types that do not fit the field are INVALID_ARGUMENT (issue 17 item 16) --------------


class RawBytes:
    """A request whose bytes are sent as they are."""

    def __init__(self, data: bytes = b"") -> None:
        self.data = data

    def SerializeToString(self) -> bytes:  # grpclib's codec calls this name
        return self.data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"\x08\x05", "plugin_context (message) sent with wire type 0", id="varint"),
        pytest.param(b"\x0f\x00\x00", "wire type 7 is not accepted", id="wire-type-7"),
        pytest.param(
            b"\x7f" + bytes(pluginv2.QueryDataRequest(queries=[pluginv2.DataQuery(ref_id="A")])),
            "wire type 7 is not accepted",
            id="unknown-field-wire-type-7",
        ),
        pytest.param(
            bytes(pluginv2.QueryDataRequest(headers={"a": "b"})) + b"\x1a\x02\x0a\x05",
            "queries.ref_id",
            id="nested-truncated",
        ),
    ],
)
async def test_a_field_sent_with_the_wrong_wire_type_is_invalid_argument(
    client: PluginTestClient, data: bytes, expected: str
) -> None:
    channel: Any = client.channel
    path = "/pluginv2.Data/QueryData"
    with pytest.raises(GRPCError) as raised:
        async with channel.request(
            path, grpclib.const.Cardinality.UNARY_UNARY, RawBytes, pluginv2.QueryDataResponse
        ) as stream:
            await stream.send_message(RawBytes(data), end=True)
            await stream.recv_message()
    assert raised.value.status == grpclib.const.Status.INVALID_ARGUMENT, raised.value
    assert expected in (raised.value.message or "")
    await serves_on(client)


def test_a_wrongly_typed_nested_field_is_refused_by_the_codec() -> None:
    good = pluginv2.QueryDataRequest(
        plugin_context=plugin_context_to_proto(context_with()),
        queries=[pluginv2.DataQuery(ref_id="A", json=b"{}")],
    )
    from plutono_plugin._runtime.codec import LimitedProtoCodec, WireError

    codec = LimitedProtoCodec(1 << 20)
    assert codec.decode(bytes(good), pluginv2.QueryDataRequest) == good
    # time_range (field 4 of DataQuery) sent as a fixed64
    bad = bytes(pluginv2.QueryDataRequest(queries=[])) + b"\x1a\x09\x21" + bytes(8)
    with pytest.raises(WireError, match=r"queries\.time_range \(message\) sent with wire type 1"):
        codec.decode(bad, pluginv2.QueryDataRequest)


# -- threads of plain def handlers stay bounded (issue 17 item 9) -----------------------------


async def test_abandoned_sync_handlers_keep_their_thread_slot(
    client: PluginTestClient, caplog: pytest.LogCaptureFixture
) -> None:
    RELEASE.clear()
    RUNNING["peak"] = 0
    threads_before = threading.active_count()
    try:
        for _ in range(3):  # rounds of callers giving up (the route's 0.05 s timeout)
            answers = await asyncio.gather(
                *(
                    client.query(target(ref, query_type="sync_stuck"), context=context_with())
                    for ref in "ABCD"
                )
            )
            assert all(
                "timed out" in answer[ref].error
                for answer, ref in zip(answers, "ABCD", strict=True)
            )
        # Before: each abandoned thread freed its slot, so 12 threads ran at once.
        assert RUNNING["peak"] <= SYNC_LIMIT
        assert threading.active_count() - threads_before <= SYNC_LIMIT
        assert plugin.workers.abandoned == SYNC_LIMIT
        with caplog.at_level(logging.WARNING, "plutono_plugin.workers"):
            late = await client.query(target("Z", query_type="sync_stuck"), context=context_with())
        assert "timed out" in late["Z"].error
        assert "with calls already given up" in caplog.text
    finally:
        RELEASE.set()
    for _ in range(100):
        if plugin.workers.running == 0:
            break
        await asyncio.sleep(0.02)
    assert (plugin.workers.running, plugin.workers.abandoned) == (0, 0)
    await serves_on(client)
