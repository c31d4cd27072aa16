"""One binder for every handler: the same parameter kinds mean the same thing everywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from plutono_plugin import (
    DataSourceSettings,
    Field,
    Frame,
    HealthResult,
    Plugin,
    Query,
    RequestContext,
    ResourceRequest,
)
from plutono_plugin.query import QueryRoute, QueryRouter
from plutono_plugin.resource import Mount, ResourceRoute, ResourceRouter
from plutono_plugin.testing import PluginTestClient, target


@dataclass
class Counter:
    name: str
    calls: int = 0


def instance_plugin() -> Plugin:
    plugin = Plugin()

    @plugin.instance
    async def make(settings: DataSourceSettings) -> AsyncIterator[Counter]:
        yield Counter(settings.name)

    return plugin


async def test_resource_handlers_take_instance_context_and_path_params_by_name() -> None:
    plugin = instance_plugin()

    @plugin.resource("count/{step}")
    async def count(step: int, instance: Counter, context: RequestContext) -> dict[str, object]:
        instance.calls += step
        return {"datasource": instance.name, "calls": instance.calls, "org": context.plugin.org_id}

    @plugin.resource("who")
    async def who(context: RequestContext) -> str:  # no request parameter at all
        return context.user.login if context.user else "nobody"

    async with PluginTestClient(plugin) as client:
        assert (await client.call_resource("GET", "count/2")).json() == {
            "datasource": "dev",
            "calls": 2,
            "org": 1,
        }
        assert (await client.call_resource("GET", "count/3")).json()["calls"] == 5
        assert (await client.call_resource("GET", "who")).text == "dev"


async def test_query_health_and_resource_handlers_bind_the_same_kinds() -> None:
    plugin = instance_plugin()

    @plugin.query("q")
    async def query(instance: Counter, context: RequestContext, q: Query) -> Frame:
        return Frame("", [Field("who", [f"{instance.name}/{context.plugin.org_id}/{q.ref_id}"])])

    @plugin.check_health
    async def health(instance: Counter, context: RequestContext) -> HealthResult:
        return HealthResult.ok(f"{instance.name}/{context.plugin.org_id}")

    @plugin.resource("r")
    async def resource(request: ResourceRequest, instance: Counter) -> str:
        return f"{instance.name}/{request.context.plugin.org_id}"

    async with PluginTestClient(plugin) as client:
        frames, error = (await client.query(target("A", query_type="q")))["A"]
        assert error == "" and frames[0].fields[0].values == ["dev/1/A"]
        assert (await client.check_health()).message == "dev/1"
        assert (await client.call_resource("GET", "r")).text == "dev/1"


def test_registration_errors_use_one_vocabulary() -> None:
    plugin = Plugin()

    async def odd_query(q: Query, other: int) -> None:
        return None

    async def odd_resource(request: ResourceRequest, other: int) -> None:
        return None

    async def odd_health(other: int) -> None:
        return None

    for register, handler in (
        (plugin.query("x"), odd_query),
        (plugin.resource("x"), odd_resource),
        (plugin.check_health, odd_health),
    ):
        with pytest.raises(TypeError, match="parameter 'other' is annotated <class 'int'>"):
            register(handler)

    async def missing_path_parameter(request: ResourceRequest) -> None:
        return None

    with pytest.raises(TypeError, match="no keyword parameter for path parameter 'item'"):
        plugin.resource("items/{item}")(missing_path_parameter)


async def test_routers_have_the_same_shape() -> None:
    async def sine(q: Query) -> Frame:
        return Frame("", [Field("v", [1.0])])

    async def ping(request: ResourceRequest) -> dict[str, bool]:
        return {"ok": True}

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    queries, resources = QueryRouter(), ResourceRouter()
    assert not queries and not resources
    query_route = queries.add_route("sine", sine)
    resource_route = resources.add_route("ping", ping)
    assert isinstance(query_route, QueryRoute) and isinstance(resource_route, ResourceRoute)
    assert queries.routes == (query_route,) and resources.routes == (resource_route,)
    assert queries.route("other")(sine) is sine and resources.route("other")(ping) is ping
    assert queries and resources

    plugin = Plugin(
        query_routes=[QueryRoute("sine", sine)],
        resource_routes=[ResourceRoute("ping", ping), Mount("api", app)],
    )
    assert isinstance(plugin.add_query_route("more", sine), QueryRoute)
    assert isinstance(plugin.add_resource_route("more", ping), ResourceRoute)
    async with PluginTestClient(plugin) as client:
        assert (await client.query(target("A", query_type="sine")))["A"].error == ""
        assert (await client.call_resource("GET", "ping")).json() == {"ok": True}
