"""What a built plugin declares: its query types (with model defaults) and ``GET`` resources.

The dev host's ``demo`` calls what the plugin itself offers rather than the quickstart's
``sine`` and ``ping``. The plugin is imported in a child interpreter, from the built
directory's own code and dependency tree (selected as ``lib/boot.py`` selects it at start), so
the description matches what runs, and a plugin's import-time side effects stay out of the
host. A directory this cannot read (a ``--standalone`` build, a plugin not written with
plutono-plugin) gives ``None``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ("describe_plugin",)

_SCRIPT = r"""
import dataclasses, importlib, importlib.util, json, os, sys
lib = sys.argv[1]
spec = importlib.util.spec_from_file_location("_plutono_boot", os.path.join(lib, "boot.py"))
boot = importlib.util.module_from_spec(spec)
spec.loader.exec_module(boot)
config = json.load(open(os.path.join(lib, "build.json")))
goos, goarch, libc = boot.this_variant()
name, problem = boot.select(goos, goarch, libc, sys.version_info[:2], boot.dependency_trees(lib),
                            config["python_versions"], sys.executable, config["plugin_id"])
if problem is not None:
    sys.exit(3)
sys.path[:0] = boot.search_path(lib, name)
if config.get("dev_source"):
    sys.path.insert(0, config["dev_source"])
from plutono_plugin._model import MISSING, model_fields
from plutono_plugin.plugin import Plugin
module_name, _, attribute = config["entry"].partition(":")
plugin = getattr(importlib.import_module(module_name), attribute)
assert isinstance(plugin, Plugin)

def plain(value):
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False

query_types = []
routes = [route for route in plugin.queries.routes if route.query_type is not None]
fallback = [route for route in plugin.queries.routes if route.query_type is None]
if fallback and not any(route.query_type == "" for route in routes):
    routes.insert(0, fallback[0])  # it answers queries without a type, as a new panel sends
for route in routes:
    model = {}
    if route.binding.model is not None:
        for field in model_fields(route.binding.model):
            if field.default is not MISSING and plain(field.default):
                model[field.key] = field.default
    query_types.append({"type": route.query_type or "", "model": model})
resources = []
for entry in plugin.resources.routes:
    path = getattr(entry, "path", None)
    methods = getattr(entry, "methods", ())
    if isinstance(path, str) and "GET" in methods and "{" not in path:
        resources.append(path)
sys.stdout.write(json.dumps({"queryTypes": query_types, "resources": resources}))
"""


def describe_plugin(
    plugin_dir: str | os.PathLike[str], timeout: float = 60.0
) -> dict[str, Any] | None:
    """``{"queryTypes": [{"type", "model"}], "resources": [path]}`` of a built plugin, or ``None``.

    ``model`` holds the query model's JSON defaults, so a demo query is one the editor would
    send. The interpreter is the one the launchers run (``lib/build.json``) when it is on the
    ``PATH``, else this one.
    """
    lib = Path(plugin_dir) / "lib"
    try:
        config = json.loads((lib / "build.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    python = shutil.which(str(config.get("python") or "")) or sys.executable
    try:
        completed = subprocess.run(
            [python, "-I", "-c", _SCRIPT, str(lib)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=lib,
        )
        described = json.loads(completed.stdout) if completed.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    return described if isinstance(described, dict) else None
