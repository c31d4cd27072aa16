"""Settings from the environment, request size limit and log level as the host sets them."""

from __future__ import annotations

from pathlib import Path

import pytest

from plutono_plugin import Field, Frame, Plugin, Query, Settings
from plutono_plugin.host import PluginHost
from plutono_plugin.testing import CallError, PluginTestClient, target


def test_settings_read_plugin_section_version_and_edition() -> None:
    settings = Settings.from_environ(
        {
            "PL_PLUGIN_API_URL": "http://upstream",
            "PL_PLUGIN_LOG_LEVEL": "WARNING",
            "PL_PLUGIN_": "ignored: no key",
            "PL_VERSION": "7.5.49",
            "PL_EDITION": "Open Source",
            "GF_PLUGIN_API_URL": "grafana's prefix is not Plutono's",
        }
    )
    assert dict(settings.plugin_config) == {"api_url": "http://upstream", "log_level": "WARNING"}
    assert (settings.host_version, settings.host_edition, settings.log_level) == (
        "7.5.49",
        "Open Source",
        "warn",
    )
    with pytest.raises(AttributeError):
        settings.log_level = "debug"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.plugin_config["x"] = "y"  # type: ignore[index]


def test_unknown_log_level_falls_back_to_debug() -> None:
    assert Settings.from_environ({"PL_PLUGIN_LOG_LEVEL": "verbose"}).log_level == "debug"


async def test_requests_above_the_receive_limit_are_refused_by_size() -> None:
    plugin = Plugin(max_receive_message_size=4096)

    @plugin.query()
    async def echo(query: Query) -> Frame:
        return Frame("", [Field("n", [len(query.raw_json)], type="int64")])

    async with PluginTestClient(plugin) as client:
        frames, _ = (await client.query(target("A", padding="x" * 100)))["A"]
        assert frames[0].fields[0].values[0] > 100
        with pytest.raises(CallError) as raised:
            await client.query(target("A", padding="x" * 10_000))
        assert raised.value.status == "RESOURCE_EXHAUSTED"
        assert "4096" in raised.value.detail
        # The plugin keeps serving after refusing one request.
        assert (await client.query(target("B")))["B"].error == ""


async def test_log_level_from_the_plugin_section(lifecycle_dir: Path) -> None:
    async with PluginHost.start(lifecycle_dir, plugin_settings={"log_level": "warn"}) as host:
        assert (await host.query(target("A", query_type="log")))["A"].error == ""
        await host.wait_for_log("an error record")
        messages = {record.message for record in host.logs}
        assert "a warn record" in messages
        assert "an info record" not in messages and "a debug record" not in messages
