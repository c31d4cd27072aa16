"""``plutono-plugin build`` writes the generated frontend, or keeps the plugin's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plutono_plugin import ConfigurationError
from plutono_plugin._build.targets import host_platform
from plutono_plugin.cli.build import build_plugin_dir

PLUGIN_SOURCE = """
from dataclasses import dataclass
from plutono_plugin import Plugin, Query


@dataclass
class Options:
    url: str = "http://localhost"


plugin = Plugin(options=Options)


@plugin.query("rows")
async def rows(query: Query) -> None:
    return None
"""


BARE_PLUGIN = "from plutono_plugin import Plugin\n\nplugin = Plugin()\n"
HOST = [host_platform()]


def source_dir(tmp_path: Path, manifest: dict[str, object], code: str = PLUGIN_SOURCE) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    base = {
        "id": "my-datasource",
        "name": "My datasource",
        "type": "datasource",
        "backend": True,
        "executable": "gpx_my",
    }
    (source / "plugin.json").write_text(json.dumps({**base, **manifest}))
    (source / "plugin.py").write_text(code)
    return source


def test_a_datasource_gets_a_generated_module_and_a_default_logo(tmp_path: Path) -> None:
    source = source_dir(tmp_path, {"info": {"version": "1.0.0"}})
    output = build_plugin_dir(source, tmp_path / "out", platforms=HOST).directory
    module = (output / "module.js").read_text()
    assert '"key": "url"' in module and '"value": "rows"' in module
    manifest = json.loads((output / "plugin.json").read_text())
    assert manifest["info"] == {
        "version": "1.0.0",
        "logos": {"small": "img/logo.svg", "large": "img/logo.svg"},
    }
    assert (output / "img" / "logo.svg").read_text().startswith("<svg")
    assert json.loads((source / "plugin.json").read_text())["info"] == {"version": "1.0.0"}


def test_a_shipped_module_and_logo_are_kept_as_they_are(tmp_path: Path) -> None:
    logos = {"small": "img/mine.png", "large": "img/mine.png"}
    source = source_dir(tmp_path, {"info": {"logos": logos}}, code=BARE_PLUGIN)
    (source / "module.js").write_text("define([], function () { return { plugin: 1 }; });\n")
    (source / "img").mkdir()
    (source / "img" / "mine.png").write_bytes(b"\x89PNG")
    output = build_plugin_dir(source, tmp_path / "out", platforms=HOST).directory
    assert (output / "module.js").read_bytes() == (source / "module.js").read_bytes()
    assert (output / "plugin.json").read_bytes() == (source / "plugin.json").read_bytes()
    assert not (output / "img" / "logo.svg").exists()


def test_an_app_gets_the_app_module(tmp_path: Path) -> None:
    source = source_dir(tmp_path, {"type": "app"}, code=BARE_PLUGIN)
    output = build_plugin_dir(source, tmp_path / "out", platforms=HOST).directory
    module = (output / "module.js").read_text()
    assert module.startswith("/* module.js of a backend app") and "AppPlugin" in module


def test_a_plugin_that_cannot_be_imported_fails_the_build_with_its_error(tmp_path: Path) -> None:
    source = source_dir(tmp_path, {}, code="import no_such_module_here\n")
    with pytest.raises(ConfigurationError) as raised:
        build_plugin_dir(source, tmp_path / "out", platforms=HOST)
    assert "entry plugin:plugin does not import" in raised.value.message
    assert "No module named 'no_such_module_here'" in raised.value.message
