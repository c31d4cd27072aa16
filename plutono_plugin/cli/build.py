"""Assemble a Plutono plugin directory: ``plugin.json`` plus one launcher per OS/arch.

Plutono starts ``<dir>/<executable>_<goos>_<goarch>`` with no arguments from its own working
directory (contract 2.1, 1.1). Each launcher is a small ``/bin/sh`` script that runs the plugin
with this Python environment, from any working directory, and never writes into the plugin
directory (``PYTHONDONTWRITEBYTECODE``: ``__pycache__`` files would break a signed plugin's
manifest, contract 2.2).
"""

from __future__ import annotations

import compileall
import json
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError
from ..frontend import write_frontend

__all__ = ("PLATFORMS", "BuildResult", "build_plugin_dir")

PLATFORMS = ("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64")
"""Launchers written: the targets Plutono is built for on POSIX (contract 6)."""


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What was written."""

    directory: Path
    plugin_id: str
    launchers: tuple[Path, ...]


def _launcher(python: str, source: Path, entry: str, plugin_id: str, dev: bool = False) -> str:
    # A --dev launcher turns on hot reload (plutono_plugin/_runtime/reload.py); an ini value wins.
    reload = f"PL_PLUGIN_DEV_RELOAD=${{PL_PLUGIN_DEV_RELOAD:-{shlex.quote(str(source))}}}\n"
    return (
        "#!/bin/sh\n"
        f"# Launcher for the Plutono plugin {plugin_id}, written by `plutono-plugin build`.\n"
        "# Plutono runs it without arguments from its own working directory.\n"
        "PYTHONDONTWRITEBYTECODE=1\n"
        f"PYTHONPATH={shlex.quote(str(source))}${{PYTHONPATH:+:$PYTHONPATH}}\n"
        + (reload + "export PL_PLUGIN_DEV_RELOAD\n" if dev else "")
        + "export PYTHONDONTWRITEBYTECODE PYTHONPATH\n"
        f"exec {shlex.quote(python)} -B -m plutono_plugin run {shlex.quote(entry)}\n"
    )


def build_plugin_dir(
    source: Path,
    output: Path,
    *,
    entry: str = "plugin:plugin",
    python: str | None = None,
    dev: bool = False,
) -> BuildResult:
    """Write ``output/plugin.json`` (from ``source``) and the launchers.

    ``entry`` is ``module:attribute`` of the :class:`~plutono_plugin.Plugin`, importable from
    ``source``; ``python`` the interpreter to use (default: this one). ``dev`` writes launchers
    that restart the plugin when its source changes (hot reload; never for a release).

    Example::

        build_plugin_dir(Path("examples/quickstart"), Path("build/plugins/quickstart"))
    """
    source = source.resolve()
    manifest_path = source / "plugin.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{manifest_path} does not exist") from None
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{manifest_path} is not valid JSON: {error}") from None
    for key in ("id", "type", "executable"):
        if not isinstance(manifest.get(key), str) or not manifest[key]:
            raise ConfigurationError(f"{manifest_path}: {key!r} must be a non-empty string")
    if manifest["type"] not in ("datasource", "app"):
        raise ConfigurationError(
            f"{manifest_path}: type {manifest['type']!r} cannot have a backend; "
            "use datasource or app (contract 2.1)"
        )
    if manifest.get("backend") is not True:
        raise ConfigurationError(f'{manifest_path}: set "backend": true')
    if ":" not in entry:
        raise ConfigurationError(f"entry {entry!r} must be module:attribute")
    interpreter = str(Path(python or sys.executable).absolute())
    output.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(manifest_path, output / "plugin.json")
    for extra in ("README.md", "module.js", "img"):
        path = source / extra
        if path.is_file():
            shutil.copyfile(path, output / extra)
        elif path.is_dir():
            shutil.copytree(path, output / extra, dirs_exist_ok=True)
    # The generated frontend (issue 10): module.js unless the source ships one, a default logo.
    write_frontend(source, output, manifest, entry=entry, python=interpreter)
    # Launchers run Python with -B (nothing written at run time), so compile now: without .pyc
    # files every start would compile the framework and the plugin from source (~25 ms).
    for directory in (source, Path(__file__).resolve().parent):
        compileall.compile_dir(directory, quiet=1, workers=1)
    script = _launcher(interpreter, source, entry, manifest["id"], dev)
    launchers = []
    for platform in PLATFORMS:
        launcher = output / f"{manifest['executable']}_{platform}"
        launcher.write_text(script, encoding="utf-8")
        launcher.chmod(0o755)
        launchers.append(launcher)
    return BuildResult(output.resolve(), manifest["id"], tuple(launchers))
