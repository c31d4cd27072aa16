"""The README's 20-line plugin works as printed."""

from __future__ import annotations

import re
import types

from plutono_plugin import Plugin
from plutono_plugin.testing import PluginTestClient, target
from tests._tools import ROOT


def readme_plugin() -> Plugin:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "README has no python example"
    module = types.ModuleType("readme_example")
    exec(compile(blocks[0], "README.md", "exec"), module.__dict__)
    plugin = module.__dict__["plugin"]
    assert isinstance(plugin, Plugin)
    return plugin


def test_readme_example_is_at_most_20_lines_of_code() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)[0]
    code = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(code) <= 20


async def test_readme_example_answers_query_resource_and_health() -> None:
    async with PluginTestClient(readme_plugin()) as client:
        frames, error = (await client.query(target("A", query_type="sine")))["A"]
        assert error == ""
        assert [field.name for field in frames[0].fields] == ["time", "value"]
        assert frames[0].rows > 1
        assert (await client.call_resource("GET", "ping")).json() == {"ok": True}
        health = await client.check_health()
        assert health.ok and health.message == "all good"
