"""Typed datasource settings: ``Plugin(options=...)``, decoded once, bound, failing clearly."""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

import pydantic
import pytest

from plutono_plugin import (
    AppSettings,
    DataSourceSettings,
    HealthResult,
    OptionsError,
    Plugin,
    PluginContext,
    Query,
    RequestContext,
    Secret,
    Secrets,
)
from plutono_plugin.options import OptionsDecoder, decode_options
from plutono_plugin.query import QueryRoute
from plutono_plugin.resource import ResourceRoute
from plutono_plugin.testing import PluginTestClient, target


class Region(enum.Enum):
    EU = "eu-west"
    US = "us-east"


@dataclass
class Options:
    url: str
    """Base URL of the upstream API."""
    timeout_s: float = 5.0
    retries: int = 2
    mode: Literal["fast", "safe"] = "safe"
    region: Region = Region.EU
    verbose: bool = False
    api_key: Secret | None = field(default=None, metadata={"label": "API key"})


def datasource(
    json_data: object, secrets: dict[str, str] | None = None, *, updated: int = 1, id_: int = 3
) -> DataSourceSettings:
    return DataSourceSettings(
        id=id_,
        name="upstream",
        raw_json_data=json.dumps(json_data).encode(),
        decrypted_secure_json_data=Secrets(secrets or {}),
        last_updated_ms=updated,
    )


def context_for(settings: DataSourceSettings) -> PluginContext:
    return PluginContext(org_id=1, plugin_id="test-datasource", datasource=settings)


def test_json_data_and_secure_json_data_decode_into_the_model() -> None:
    settings = datasource(
        {"url": "http://up", "timeoutS": 1.5, "retries": 4, "mode": "fast", "region": "us-east"},
        {"apiKey": "s3cr3t"},
    )
    options = decode_options(Options, settings)
    assert options == Options(
        url="http://up",
        timeout_s=1.5,
        retries=4,
        mode="fast",
        region=Region.US,
        api_key=Secret("s3cr3t"),
    )
    assert options.api_key is not None and options.api_key.value == "s3cr3t"
    assert "s3cr3t" not in repr(options)


def test_snake_case_keys_are_accepted_and_an_emptied_secret_is_unset() -> None:
    options = decode_options(Options, datasource({"url": "u", "timeout_s": 2}, {"apiKey": ""}))
    assert (options.timeout_s, options.api_key) == (2, None)


@pytest.mark.parametrize(
    ("json_data", "secrets", "message"),
    [
        ({}, {}, "setting 'Url' is required (jsonData.url)"),
        ({"url": "u", "retries": "3"}, {}, "field 'retries': expected int, got str"),
        ({"url": "u", "mode": "turbo"}, {}, "field 'mode': 'turbo' is not one of 'fast', 'safe'"),
        ({"url": "u", "region": "mars"}, {}, "field 'region': 'mars' is not one of 'eu-west'"),
        ({"url": 3}, {}, "field 'url': expected str, got int"),
    ],
)
def test_a_bad_setting_names_the_datasource_and_the_field(
    json_data: object, secrets: dict[str, str], message: str
) -> None:
    with pytest.raises(OptionsError) as raised:
        decode_options(Options, datasource(json_data, secrets))
    assert "datasource 'upstream' (id 3)" in raised.value.message
    assert message in raised.value.message


def test_a_required_secret_is_reported_in_secure_json_data() -> None:
    @dataclass
    class Needs:
        token: Secret

    with pytest.raises(
        OptionsError, match=r"'Token' is required \(secureJsonData.token\)"
    ) as raised:
        decode_options(Needs, datasource({}))
    assert raised.value.field == "token"


def test_json_data_that_is_not_an_object_is_an_options_error() -> None:
    settings = DataSourceSettings(id=1, name="x", raw_json_data=b"[1]")
    with pytest.raises(OptionsError, match="jsonData must be a JSON object"):
        decode_options(Options, settings)


def test_pydantic_models_with_secret_and_secretstr() -> None:
    class Model(pydantic.BaseModel):
        url: str = pydantic.Field(title="Upstream URL", description="Where to ask")
        key: Secret | None = None
        password: pydantic.SecretStr | None = None

    options = decode_options(Model, datasource({"url": "http://x"}, {"key": "k", "password": "pw"}))
    assert options.key == Secret("k")
    assert options.password is not None and options.password.get_secret_value() == "pw"
    with pytest.raises(OptionsError, match="field 'url'"):
        decode_options(Model, datasource({"url": ["no"]}))


def test_options_are_decoded_once_per_datasource_version() -> None:
    decoder = OptionsDecoder(Options)
    first = decoder.decode(datasource({"url": "a"}, updated=1))
    assert decoder.decode(datasource({"url": "a"}, updated=1)) is first
    changed = decoder.decode(datasource({"url": "b"}, updated=2))
    assert changed is not first and changed.url == "b"
    assert decoder.decode(None) is None


def test_options_must_be_a_model_type() -> None:
    with pytest.raises(TypeError, match="options must be a dataclass or a pydantic model"):
        Plugin(options=dict)


def make_plugin() -> tuple[Plugin, list[tuple[str, object]]]:
    plugin = Plugin(options=Options)
    seen: list[tuple[str, object]] = []

    @plugin.instance
    async def client(settings: DataSourceSettings, options: Options) -> AsyncIterator[str]:
        seen.append(("factory", options))
        yield f"client for {options.url} in {settings.name}"

    @plugin.query("echo")
    async def echo(query: Query, options: Options, instance: str) -> None:
        seen.append(("query", options))
        assert instance == f"client for {options.url} in upstream"

    @plugin.check_health
    async def health(options: Options | None, context: RequestContext) -> HealthResult:
        assert options is context.options
        return HealthResult.ok(f"{options.url if options else None} answers")

    return plugin, seen


async def test_handlers_and_the_factory_receive_the_same_decoded_options() -> None:
    plugin, seen = make_plugin()
    context = context_for(datasource({"url": "http://up"}))
    async with PluginTestClient(plugin, context=context) as client:
        replies = await client.query(target("A", query_type="echo"), target("B", query_type="echo"))
        health = await client.check_health()
    assert {ref_id: error for ref_id, (_, error) in replies.items()} == {"A": "", "B": ""}
    assert health.ok and health.message == "http://up answers"
    kinds = [kind for kind, _ in seen]
    assert kinds == ["factory", "query", "query"]
    assert all(options is seen[0][1] for _, options in seen)  # one decode for all of them


async def test_bad_settings_fail_health_and_every_query_with_the_same_text() -> None:
    plugin, seen = make_plugin()
    context = context_for(datasource({"url": "http://up", "retries": "many"}))
    async with PluginTestClient(plugin, context=context) as client:
        health = await client.check_health()
        replies = await client.query(target("A", query_type="echo"), target("B", query_type="echo"))
    expected = (
        "datasource 'upstream' (id 3): invalid settings: field 'retries': expected int, got str"
    )
    assert (health.status, health.message) == ("ERROR", expected)
    assert {ref_id: error for ref_id, (_, error) in replies.items()} == {
        "A": expected,
        "B": expected,
    }
    assert seen == []  # neither the factory nor a handler ran


async def test_app_calls_get_no_options_and_no_options_only_instance() -> None:
    plugin = Plugin(options=Options)

    @plugin.instance
    async def build(options: Options) -> str:
        return options.url

    @plugin.check_health
    async def health(options: Options | None, instance: str | None) -> HealthResult:
        return HealthResult.ok(f"{options!r} {instance!r}")

    app = PluginContext(org_id=1, plugin_id="test-app", app=AppSettings(raw_json_data=b"{}"))
    async with PluginTestClient(plugin, context=app) as client:
        assert (await client.check_health()).message == "None None"


def test_declarative_routes_are_bound_with_the_plugins_options() -> None:
    async def handler(query: Query, options: Options) -> None:
        return None

    alone = QueryRoute("y", handler)  # alone it cannot know Options: a query model to it
    assert alone.binding.slots == {"query": "input", "options": "model"}
    plugin = Plugin(options=Options, query_routes=[alone])
    assert plugin.queries.routes[0].binding.slots == {"query": "input", "options": "options"}


def test_a_factory_without_settings_or_options_is_refused() -> None:
    plugin = Plugin(options=Options)

    async def nothing() -> str:
        return "x"

    with pytest.raises(TypeError, match="must take the settings and/or the options"):
        plugin.instance(nothing)


async def test_resource_handlers_receive_the_options_too() -> None:
    async def declared(options: Options) -> dict[str, str]:
        return {"declared": options.url}

    with pytest.raises(TypeError, match="cannot provide"):
        ResourceRoute("declared", declared)  # alone it cannot know what Options is
    route = ResourceRoute("declared", declared, options_type=Options)
    plugin = Plugin(options=Options, resource_routes=[route])

    @plugin.resource("items/{item_id}")
    async def item(item_id: int, options: Options) -> dict[str, object]:
        return {"id": item_id, "url": options.url, "retries": options.retries}

    context = context_for(datasource({"url": "http://up"}))
    async with PluginTestClient(plugin, context=context) as client:
        reply = await client.call_resource("GET", "items/7")
        other = await client.call_resource("GET", "declared")
    assert reply.json() == {"id": 7, "url": "http://up", "retries": 2}
    assert other.json() == {"declared": "http://up"}


@dataclass
class Bounded:
    points: int = field(default=10, metadata={"min": 1, "max": 500})
    ratio: float = 0.5


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # Plutono stores jsonData numbers textually (contract 8.9): what an editor let through.
        (b'{"points": 1e+21}', "field 'points': expected int, got float"),
        (b'{"points": 9007199254740993}', "field 'points': 9007199254740993 is not a safe integer"),
        (b'{"points": 0}', "field 'points': 0 must be at least 1"),
        (b'{"points": 501}', "field 'points': 501 must be at most 500"),
        (b'{"ratio": NaN}', "field 'ratio': nan is not a finite number"),
        (b'{"ratio": Infinity}', "field 'ratio': inf is not a finite number"),
    ],
)
def test_numbers_are_checked_as_the_generated_editor_checks_them(raw: bytes, message: str) -> None:
    settings = DataSourceSettings(id=3, name="upstream", raw_json_data=raw)
    with pytest.raises(OptionsError) as raised:
        decode_options(Bounded, settings)
    assert message in raised.value.message


def test_numbers_within_bounds_decode() -> None:
    settings = DataSourceSettings(id=3, name="x", raw_json_data=b'{"points": 500, "ratio": 1e300}')
    assert decode_options(Bounded, settings) == Bounded(points=500, ratio=1e300)


class PydanticNumbers(pydantic.BaseModel):
    points: int = 1
    ratio: float | None = None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"points": 9007199254740993}', "field 'points': 9007199254740993 is not a safe integer"),
        (b'{"ratio": NaN}', "field 'ratio': nan is not a finite number"),
    ],
)
def test_pydantic_numbers_get_the_same_checks(raw: bytes, message: str) -> None:
    settings = DataSourceSettings(id=3, name="upstream", raw_json_data=raw)
    with pytest.raises(OptionsError) as raised:
        decode_options(PydanticNumbers, settings)
    assert message in raised.value.message
