"""Render ``module.js`` from a schema, and write the frontend files of a built plugin.

The templates (``datasource.js``, ``app.js``) and the default logo are files of this package;
the schema goes in as a JSON literal, so the output is deterministic: the same declarations give
the same bytes (the quickstart's module is committed as a snapshot and checked for drift).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

__all__ = ("DEFAULT_LOGO", "render_module", "write_frontend")

DEFAULT_LOGO = "img/logo.svg"
"""Where the default logo goes, relative to the plugin directory (``info.logos``)."""

_PLACEHOLDER = "/*@SCHEMA@*/"


def _template(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def render_module(schema: dict[str, Any]) -> str:
    """The ``module.js`` text for ``schema`` (see :mod:`plutono_plugin.frontend.schema`).

    Example::

        schema = frontend_schema(plugin)
        Path("dist/module.js").write_text(render_module(schema))
    """
    if schema.get("pluginType") == "app":
        return _template("app.js")
    literal = json.dumps(schema, indent=2, ensure_ascii=True).replace("\n", "\n  ")
    return _template("datasource.js").replace(_PLACEHOLDER, literal)


def _schema_of(source: Path, entry: str, python: str) -> dict[str, Any]:
    """Import the plugin with the launchers' interpreter, in a child process, and read its schema.

    A child process: the plugin is imported as it will run (same interpreter and path), and its
    module-level side effects (metrics registries, ...) stay out of the build tool.
    """
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "schema.json"
        path = os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH", "")]))
        result = subprocess.run(
            [python, "-B", "-m", "plutono_plugin.frontend", entry, str(output)],
            cwd=source,
            env={**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise ConfigurationError(
                f"cannot import {entry} from {source} to generate module.js:\n"
                f"{result.stderr.strip()}"
            )
        schema: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
        return schema


def write_frontend(
    source: Path,
    output: Path,
    manifest: dict[str, Any],
    *,
    entry: str = "plugin:plugin",
    python: str | None = None,
) -> list[Path]:
    """Write the generated ``module.js`` and a default logo into a built plugin directory.

    ``module.js`` is written unless ``source`` ships its own (the build copies that one as is);
    the logo (``img/logo.svg``) and ``info.logos`` in ``output/plugin.json`` only when the
    manifest names no logo. Returns the files written.
    """
    written: list[Path] = []
    if not (source / "module.js").is_file():
        if manifest["type"] == "app":
            schema: dict[str, Any] = {"pluginType": "app"}
        else:
            schema = _schema_of(source, entry, python or sys.executable)
            # plugin.json lists the datasource as an annotation source; the module then gives
            # the instance an `annotations` object (spec 8.3), or Plutono finds no editor.
            schema["annotations"] = manifest.get("annotations") is True
        module = output / "module.js"
        module.write_text(render_module(schema), encoding="utf-8")
        written.append(module)
    info = manifest.get("info")
    if not (isinstance(info, dict) and info.get("logos")):
        logo = output / DEFAULT_LOGO
        logo.parent.mkdir(parents=True, exist_ok=True)
        logo.write_text(_template("logo.svg"), encoding="utf-8")
        updated = {
            **manifest,
            "info": {**(info or {}), "logos": {"small": DEFAULT_LOGO, "large": DEFAULT_LOGO}},
        }
        (output / "plugin.json").write_text(json.dumps(updated, indent=2) + "\n", encoding="utf-8")
        written += [logo, output / "plugin.json"]
    return written
