"""The Python examples of docs/frontend.md run as printed, and their editors are as described."""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from plutono_plugin import Plugin
from plutono_plugin.frontend import frontend_schema
from plutono_plugin.testing import PluginTestClient, target
from tests._tools import ROOT


def docs_examples(folder: Path) -> list[types.ModuleType]:
    """Each ```python block of docs/frontend.md, imported from a file of its own.

    From a file, not exec'd: attribute docstrings (the help tooltips) are read from the source.
    """
    text = (ROOT / "docs" / "frontend.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 2
    modules = []
    for number, block in enumerate(blocks):
        name = f"frontend_docs_example_{number}"
        path = folder / f"{name}.py"
        path.write_text(block, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> list[types.ModuleType]:
    return docs_examples(tmp_path_factory.mktemp("docs"))


def metadata_example(examples: list[types.ModuleType]) -> Plugin:
    """The plugin of the field metadata example."""
    (module,) = [module for module in examples if hasattr(module, "ReadingsQuery")]
    plugin = module.__dict__["plugin"]
    assert isinstance(plugin, Plugin)
    return plugin


def test_every_python_example_defines_a_plugin(examples: list[types.ModuleType]) -> None:
    for module in examples:
        assert isinstance(module.__dict__["plugin"], Plugin)


async def test_the_field_metadata_example_declares_what_the_docs_say(
    examples: list[types.ModuleType],
) -> None:
    plugin = metadata_example(examples)
    (readings,) = frontend_schema(plugin)["queryTypes"]
    fields: dict[str, dict[str, Any]] = {field["key"]: field for field in readings["fields"]}
    assert (fields["station"]["kind"], fields["station"]["choicesFrom"]) == ("select", "stations")
    assert (fields["sql"]["label"], fields["sql"]["code"]) == ("SQL", True)
    assert (fields["maxPoints"]["min"], fields["maxPoints"]["max"]) == (1, 10_000)
    assert fields["fillValue"]["showWhen"] == {"key": "fill", "values": ["value"]}
    assert all(field["help"] for field in readings["fields"])  # every field has a tooltip
    async with PluginTestClient(plugin) as client:
        stations = (await client.call_resource("GET", "stations")).json()
        assert stations[0] == {"value": "ber", "label": "Berlin"}
        _, error = (await client.query(target("A", query_type="readings", maxPoints=5)))["A"]
        assert error == ""
        (refused,) = (await client.query(target("B", query_type="readings", maxPoints=0))).values()
        assert refused[1].endswith("field 'maxPoints': 0 must be at least 1")
