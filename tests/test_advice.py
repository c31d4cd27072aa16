"""Mistakes a plugin author makes get a message that names the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from plutono_plugin import (
    Field,
    Frame,
    HealthResult,
    Plugin,
    Query,
    RequestContext,
)
from plutono_plugin.context import NO_INSTANCE
from plutono_plugin.testing import PluginTestClient, target


@dataclass
class Sine:
    amplitude: float = 1.0
    period_s: float = 60.0


@dataclass
class StrictSine(Sine):
    strict: ClassVar[bool] = True


def sine_plugin() -> Plugin:
    plugin = Plugin()

    @plugin.query("sine")
    async def sine(query: Query, model: Sine) -> Frame:
        return Frame("", [Field("amplitude", [model.amplitude])])

    @plugin.query("strict")
    async def strict(query: Query, model: StrictSine) -> Frame:
        return Frame("", [Field("amplitude", [model.amplitude])])

    @plugin.query("empty")
    async def empty(query: Query, model: Sine) -> None:
        return None

    return plugin


async def test_unknown_query_key_is_a_warning_notice_with_did_you_mean() -> None:
    async with PluginTestClient(sine_plugin()) as client:
        query = target("A", query_type="sine", amplitdue=5, periodS=10, hide=False)
        frames, error = (await client.query(query))["A"]
        assert error == "" and frames[0].fields[0].values == [1.0]  # the default was used
        assert frames[0].meta is not None
        (notice,) = frames[0].meta.notices
        assert notice.severity == "warning"
        assert "'amplitdue' (did you mean 'amplitude'?)" in notice.text
        assert "periodS" not in notice.text and "hide" not in notice.text
        assert "strict" in notice.text


async def test_known_keys_only_give_no_notice_and_no_frames_get_a_notice_frame() -> None:
    async with PluginTestClient(sine_plugin()) as client:
        frames, error = (await client.query(target("A", query_type="sine", amplitude=2)))["A"]
        assert error == "" and frames[0].meta is None
        frames, error = (await client.query(target("A", query_type="empty", bogus=1)))["A"]
        assert error == "" and frames[0].meta is not None
        assert "'bogus'" in frames[0].meta.notices[0].text


async def test_a_strict_model_refuses_unknown_keys() -> None:
    async with PluginTestClient(sine_plugin()) as client:
        reply = (await client.query(target("A", query_type="strict", amplitdue=5)))["A"]
        assert "unknown query key(s) 'amplitdue' (did you mean 'amplitude'?)" in reply.error


async def test_unknown_query_type_lists_the_known_ones_and_suggests_one() -> None:
    async with PluginTestClient(sine_plugin()) as client:
        answers = await client.query(target("A", query_type="sinus"), target("B"))
        assert answers["A"].error == (
            "no handler for query type 'sinus' (did you mean 'sine'?); "
            "the plugin handles 'empty', 'sine', 'strict'"
        )


async def test_a_returned_dataframe_names_frame_from_pandas() -> None:
    pandas = pytest.importorskip("pandas")
    plugin = Plugin()

    @plugin.query("table")
    async def table(query: Query) -> object:
        return pandas.DataFrame({"value": [1.0]})

    async with PluginTestClient(plugin) as client:
        error = (await client.query(target("A", query_type="table")))["A"].error
        assert "handler returned DataFrame" in error and "Frame.from_pandas(" in error


def test_an_unprovidable_parameter_lists_what_the_framework_provides() -> None:
    plugin = Plugin()
    with pytest.raises(TypeError) as raised:

        @plugin.query("x")
        async def handler(query: Query, limit: int) -> None:
            return None

    text = str(raised.value)
    assert "'limit' is annotated" in text and "cannot provide; it provides Query" in text
    for kind in ("RequestContext", "options", "dataclass or pydantic model", "'instance'"):
        assert kind in text


@pytest.mark.parametrize("decorator", ["check_health", "instance"])
def test_decorators_used_with_parentheses_say_to_drop_them(decorator: str) -> None:
    plugin = Plugin()
    with pytest.raises(TypeError, match=f"write '@plugin.{decorator}' without parentheses"):
        getattr(plugin, decorator)()


async def test_context_instance_without_a_factory_explains_how_to_register_one() -> None:
    plugin = Plugin()

    @plugin.check_health
    async def health(context: RequestContext) -> HealthResult:
        assert not context.instance
        return HealthResult.ok(context.instance.base_url)

    async with PluginTestClient(plugin) as client:
        reply = await client.check_health()
        assert not reply.ok and "no instance factory" in reply.message
    with pytest.raises(
        AttributeError, match=r"registers no instance factory(.|\n)*@plugin.instance"
    ):
        _ = NO_INSTANCE.base_url
