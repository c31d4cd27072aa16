"""The test kit takes a datasource's settings, forgets them per client, and swaps factories."""

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
    PluginContext,
    Query,
    RequestContext,
    Secret,
)
from plutono_plugin.testing import PluginTestClient, target


@dataclass
class Options:
    city: str = "nowhere"
    api_key: Secret | None = None


plugin = Plugin(options=Options)  # module level, shared by every test below, as in a suite


class Upstream:
    def __init__(self, city: str) -> None:
        self.city = city


@plugin.instance
async def upstream(settings: DataSourceSettings, options: Options) -> AsyncIterator[Upstream]:
    yield Upstream(f"real:{options.city}")


@plugin.query("city")
async def city(query: Query, options: Options, context: RequestContext) -> Frame:
    return Frame("", [Field("city", [options.city]), Field("via", [context.instance.city])])


@plugin.check_health
async def health(options: Options) -> HealthResult:
    if options.api_key is None:
        return HealthResult.error("set an API key")
    return HealthResult.ok(f"key for {options.city}")


async def answer(client: PluginTestClient) -> list[object]:
    frames, error = (await client.query(target("A", query_type="city")))["A"]
    assert error == ""
    return [field.values[0] for field in frames[0].fields]


@pytest.mark.parametrize("city_name", ["berlin", "cologne"])
async def test_json_data_reaches_typed_options_and_never_leaks(city_name: str) -> None:
    async with PluginTestClient(plugin, json_data={"city": city_name}) as client:
        assert await answer(client) == [city_name, f"real:{city_name}"]


async def test_consecutive_clients_see_their_own_settings_and_secrets() -> None:
    async with PluginTestClient(
        plugin, json_data={"city": "berlin"}, secure_json_data={"apiKey": "k"}
    ) as client:
        assert (await client.check_health()).message == "key for berlin"
    async with PluginTestClient(plugin, json_data={"city": "cologne"}) as client:
        health = await client.check_health()
        assert not health.ok and health.message == "set an API key"
        assert await answer(client) == ["cologne", "real:cologne"]


async def test_override_swaps_the_instance_factory_for_one_client_only() -> None:
    client = PluginTestClient(plugin, json_data={"city": "berlin"})
    client.override(upstream, Upstream("fake"))
    async with client:
        assert await answer(client) == ["berlin", "fake"]
    async with PluginTestClient(plugin, json_data={"city": "berlin"}) as client:
        assert await answer(client) == ["berlin", "real:berlin"]


async def test_override_takes_a_replacement_factory() -> None:
    async def fake(settings: DataSourceSettings, options: Options) -> Upstream:
        return Upstream(f"fake:{options.city}")

    client = PluginTestClient(plugin, json_data={"city": "bonn"})
    client.override(upstream, fake)
    async with client:
        assert await answer(client) == ["bonn", "fake:bonn"]


def test_override_of_something_else_names_the_factory_to_pass() -> None:
    async def other(settings: DataSourceSettings) -> None:
        return None

    with pytest.raises(ValueError, match=r"upstream.*@plugin.instance"):
        PluginTestClient(plugin).override(other, object())


def test_context_and_json_data_together_are_refused() -> None:
    with pytest.raises(TypeError, match="context or json_data"):
        PluginTestClient(plugin, json_data={}, context=PluginContext())


async def test_app_plugins_get_json_data_as_app_settings() -> None:
    app = Plugin()

    @app.query("where")
    async def where(query: Query, context: RequestContext) -> Frame:
        assert context.plugin.app is not None and context.datasource is None
        return Frame("", [Field("city", [context.plugin.app.json_data["city"]])])

    async with PluginTestClient(app, json_data={"city": "oslo"}, plugin_type="app") as client:
        frames, error = (await client.query(target("A", query_type="where")))["A"]
        assert error == "" and frames[0].fields[0].values == ["oslo"]
