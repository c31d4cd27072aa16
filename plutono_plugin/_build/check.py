"""Refuse, before anything is written, a plugin that Plutono or the launcher could not start.

``plugin.json`` needs ``id``, ``name``, ``type`` (``datasource`` or ``app``: the types with a
backend, contract 2.1), ``"backend": true`` and ``executable``. The plugin's code must compile,
and the entry must import, in a separate interpreter, to a :class:`~plutono_plugin.Plugin`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

__all__ = ("check_entry", "plugin_sources", "read_build_manifest")

_REQUIRED = ("id", "name", "type", "executable")

# Runs in a child interpreter: a plugin's import-time side effects stay out of the build.
_IMPORT_CHECK = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
module_name, _, attribute = sys.argv[2].partition(":")
from plutono_plugin import Plugin
module = importlib.import_module(module_name)
if not hasattr(module, attribute):
    sys.stderr.write("NOT-FOUND module %r has no attribute %r\\n" % (module_name, attribute))
    sys.exit(3)
value = getattr(module, attribute)
if not isinstance(value, Plugin):
    sys.stderr.write("NOT-PLUGIN %s is a %s, not a Plugin\\n" % (sys.argv[2], type(value).__name__))
    sys.exit(3)
"""


def read_build_manifest(source: Path) -> dict[str, Any]:
    """``source/plugin.json``, checked for what a backend plugin must declare."""
    path = source / "plugin.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path} does not exist") from None
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigurationError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(manifest, dict):
        raise ConfigurationError(f"{path} must hold a JSON object")
    for key in _REQUIRED:
        if not isinstance(manifest.get(key), str) or not manifest[key]:
            raise ConfigurationError(f"{path}: {key!r} must be a non-empty string")
    if manifest["type"] not in ("datasource", "app"):
        raise ConfigurationError(
            f"{path}: type {manifest['type']!r} cannot have a backend; "
            "use datasource or app (contract 2.1)"
        )
    if manifest.get("backend") is not True:
        raise ConfigurationError(f'{path}: set "backend": true')
    return manifest


def plugin_sources(source: Path, entry: str) -> list[Path]:
    """The plugin's code: top-level modules and packages of ``source``, each compiled here.

    Raises :class:`ConfigurationError` naming the file and line that does not compile, or
    when the entry's module is not among them.
    """
    module_name, _, attribute = entry.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"entry {entry!r} must be module:attribute")
    found = sorted(
        path
        for path in source.iterdir()
        if (path.suffix == ".py" and path.is_file()) or (path / "__init__.py").is_file()
    )
    top = module_name.split(".")[0]
    if not any(path.stem == top or path.name == top for path in found):
        raise ConfigurationError(
            f"entry module {module_name!r} is not in {source} (no {top}.py or {top}/__init__.py)"
        )
    for path in found:
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            try:
                compile(file.read_bytes(), str(file), "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as error:
                where = f"{file}:{getattr(error, 'lineno', None) or '?'}"
                raise ConfigurationError(f"{where} does not compile: {error}") from None
    return found


def check_entry(source: Path, entry: str) -> None:
    """Import ``entry`` from ``source`` in a child interpreter; it must be a ``Plugin``."""
    environment = {k: v for k, v in os.environ.items() if k != "grafana_plugin_type"}
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHECK, str(source), entry],
        cwd=source,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode == 0:
        return
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else f"exit code {result.returncode}"
    if last.startswith(("NOT-FOUND ", "NOT-PLUGIN ")):
        raise ConfigurationError(f"entry {entry}: {last.split(' ', 1)[1]}")
    raise ConfigurationError(f"entry {entry} does not import: {last}")
