"""``plutono-plugin new DIR``: write a plugin project that works as written.

The project (``--type datasource``, the default, or ``app``)::

    src/plugin.json       every field Plutono needs (id, type, name, backend, executable, info)
    src/plugin.py         the plugin: typed options, a query model, a health check, a resource
    src/requirements.txt  run-time dependencies beyond plutono-plugin (none yet)
    pyproject.toml        the project: depends on plutono-plugin; pytest and ruff settings
    README.md             the next commands
    tests/test_plugin.py, tests/golden/   in-memory tests with settings, one golden test
    .gitignore

``src/`` is what ``plutono-plugin build src --out build/<id>`` ships (the build refuses an
output directory inside its source, so the plugin's source is a folder of its own). The golden
file is written by running the new plugin once, so ``pytest`` passes at once.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

__all__ = ("TYPES", "new_project")

TYPES = ("datasource", "app")
"""Kinds of project ``new`` writes (the plugin types with a backend, contract 2.1)."""

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_GOLDEN_TEST = "test_constant_query_matches_its_golden_file"
_SETTINGS = {"url": "https://api.example.com"}
_SECRETS = {"apiKey": "test-key"}


def new_project(
    directory: Path,
    *,
    plugin_type: str = "datasource",
    plugin_id: str | None = None,
    name: str | None = None,
) -> list[Path]:
    """Write a new plugin project into ``directory`` (new or empty); return the files written.

    ``plugin_id`` defaults to the directory's name in lower case with ``-datasource`` (or
    ``-app``) appended; ``name`` to the directory's name. Raises :class:`ConfigurationError`
    for a non-empty directory, an unknown type or an id Plutono would not accept.
    """
    if plugin_type not in TYPES:
        raise ConfigurationError(f"--type must be datasource or app, not {plugin_type!r}")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ConfigurationError(f"{directory} exists and is not empty: choose a new directory")
    slug = re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower()).strip("-") or "my"
    base = re.sub(rf"-{plugin_type}$", "", slug)
    plugin_id = plugin_id or f"{base}-{plugin_type}"
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", plugin_id):
        raise ConfigurationError(
            f"plugin id {plugin_id!r} must be lower-case letters, digits and dashes "
            "(e.g. acme-weather-datasource)"
        )
    name = name or directory.resolve().name
    values = {
        "@@NAME@@": name,
        "@@ID@@": plugin_id,
        "@@TYPE@@": plugin_type,
        "@@GOLDEN_ROW@@": "; `tests/golden/`: the golden file"
        if plugin_type == "datasource"
        else "",
        "@@DEMO_ARGS@@": _demo_arguments(plugin_type),
    }
    files: dict[str, str] = {
        "src/plugin.json": _manifest(plugin_id, name, plugin_type, base),
        "src/plugin.py": _template(f"{plugin_type}/plugin.py.tmpl", values),
        "tests/test_plugin.py": _template(f"{plugin_type}/tests/test_plugin.py.tmpl", values),
        "src/requirements.txt": (
            "# Run-time dependencies beyond plutono-plugin, one per line (pip's format);\n"
            "# plutono-plugin build ships them with the plugin for every platform.\n"
        ),
        "pyproject.toml": _pyproject(plugin_id),
        "README.md": _template("README.md.tmpl", values),
        ".gitignore": "build/\n.venv/\n__pycache__/\n.pytest_cache/\n",
    }
    written = []
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    if plugin_type == "datasource":
        written.append(_write_golden(directory))
    return written


def _template(name: str, values: dict[str, str]) -> str:
    text = (_TEMPLATES / name).read_text(encoding="utf-8")
    for marker, value in values.items():
        text = text.replace(marker, value)
    return text


def _demo_arguments(plugin_type: str) -> str:
    if plugin_type != "datasource":
        return ""
    return f" --json-data '{json.dumps(_SETTINGS)}' --secure-json-data '{json.dumps(_SECRETS)}'"


def _manifest(plugin_id: str, name: str, plugin_type: str, base: str) -> str:
    manifest: dict[str, Any] = {
        "type": plugin_type,
        "name": name,
        "id": plugin_id,
        "backend": True,
        "executable": "gpx_" + base.replace("-", "_"),
    }
    if plugin_type == "datasource":
        manifest.update(alerting=True, metrics=True)
    manifest["info"] = {
        "description": f"{name}, written with plutono-plugin",
        "author": {"name": ""},
        "version": "0.1.0",
        "updated": date.today().isoformat(),
    }
    manifest["dependencies"] = {"plutonoVersion": "7.5.x", "plugins": []}
    return json.dumps(manifest, indent=2) + "\n"


def _pyproject(plugin_id: str) -> str:
    return f"""\
[project]
name = "{plugin_id}"
version = "0.1.0"
requires-python = ">=3.11"
# Only what the tests and the build need: plutono-plugin build ships the plugin's
# run-time dependencies from requirements.txt.
# (the arrow extra: the test kit decodes the plugin's frames with pyarrow)
dependencies = ["plutono-plugin[arrow]", "pytest>=8", "pytest-asyncio>=0.24"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["src"]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"

[tool.ruff]
line-length = 100
extend-exclude = ["build"]

[tool.ruff.lint.isort]
known-first-party = ["plugin"]
"""


def _write_golden(directory: Path) -> Path:
    """Run the new plugin's golden query once and store its answer, as --update-golden does."""
    from ..golden import check_golden
    from ..testing import PluginTestClient, target

    module_name = f"_plutono_plugin_new_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, directory / "src" / "plugin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses resolve annotations through it
    try:
        spec.loader.exec_module(module)

        async def answer() -> Any:
            client = PluginTestClient(module.plugin, json_data=_SETTINGS, secure_json_data=_SECRETS)
            async with client:
                query = target("A", query_type="constant", value=2.5, points=4)
                hour = ("1704067200000", "1704070800000")
                return await client.query_raw(query, time_range=hour)

        path = directory / "tests" / "golden" / f"{_GOLDEN_TEST}.txt"
        check_golden(path, asyncio.run(answer()), update=True)
        return path
    finally:
        del sys.modules[module_name]
