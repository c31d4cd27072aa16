"""The public in-memory test client drives a plugin through its real services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from plutono_plugin import Field, Frame, Plugin, Query, RequestContext, ResourceRequest
from plutono_plugin.testing import CallError, PluginTestClient, target
from tests._tools import load_example


async def test_example_in_memory_query_resource_health_metrics() -> None:
    plugin = load_example().plugin
    async with PluginTestClient(plugin) as client:
        answers = await client.query(
            target("A", query_type="sine", amplitude=3), target("B", query_type="error")
        )
        frames, error = answers["A"]
        assert error == "" and [f.name for f in frames[0].fields] == ["time", "value"]
        assert max(abs(v) for v in frames[0].fields[1].values) <= 3
        assert answers["B"].error == "query failed"
        assert (await client.call_resource("GET", "ping")).json() == {"ok": True}
        assert (await client.call_resource("GET", "items/abc")).status == 422
        assert (await client.check_health()).ok
        assert "quickstart_queries_served" in await client.collect_metrics()
        assert client.problems == []


async def test_lifespan_runs_around_the_client_and_settings_reach_handlers() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(plugin: Plugin) -> AsyncIterator[None]:
        events.append("start")
        yield
        events.append("stop")

    plugin = Plugin(lifespan=lifespan)

    @plugin.query("echo")
    async def echo(query: Query, context: RequestContext) -> Frame:
        return Frame("", [Field("url", [context.settings.plugin_config["api_url"]])])

    async with PluginTestClient(plugin, plugin_config={"api_url": "http://up"}) as client:
        assert events == ["start"]
        frames, _ = (await client.query(target("A", query_type="echo")))["A"]
        assert frames[0].fields[0].values == ["http://up"] and frames[0].ref_id == "A"
    assert events == ["start", "stop"]


async def test_a_plugin_without_resources_answers_not_found_like_plutono() -> None:
    plugin = Plugin()

    @plugin.query()
    async def anything(query: Query) -> None:
        return None

    async with PluginTestClient(plugin) as client:
        with pytest.raises(CallError) as raised:
            await client.call_resource("GET", "ping")
        assert raised.value.status == "UNIMPLEMENTED"  # Plutono: 404 Not found (2.3)


async def test_handlers_stay_callable_directly() -> None:
    plugin = Plugin()

    @plugin.resource("hello/{name}")
    async def hello(request: ResourceRequest, name: str) -> dict[str, str]:
        return {"hello": name}

    assert await hello(ResourceRequest("GET", "hello/x"), "x") == {"hello": "x"}
