"""The ``plutono-plugin`` command (also ``python -m plutono_plugin``).

* ``run module:attribute`` — serve a plugin; what a launcher runs when Plutono starts it.
* ``build SOURCE --out DIR`` — assemble a Plutono plugin directory with launchers.
* ``host PLUGIN_DIR COMMAND`` — the dev host: start a built plugin as Plutono does and call it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ("load_plugin", "main")


def load_plugin(entry: str) -> object:
    """Import ``module:attribute`` (current directory on ``sys.path``) and return the attribute."""
    module_name, _, attribute = entry.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"plutono-plugin: entry {entry!r} must be module:attribute")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise SystemExit(f"plutono-plugin: module {module_name!r} has no {attribute!r}") from None


def _run(entry: str) -> int:
    from .._runtime.runner import check_host

    # The cookie check comes before importing the plugin's code and its libraries (contract 1.3).
    status = check_host(os.environ)
    if status is not None:
        return status
    from ..plugin import Plugin

    plugin = load_plugin(entry)
    if not isinstance(plugin, Plugin):
        raise SystemExit(f"plutono-plugin: {entry} is a {type(plugin).__name__}, not a Plugin")
    from .._runtime.runner import exit_process, run_plugin

    exit_process(run_plugin(plugin))


def _build(source: str, output: str, entry: str, python: str | None, dev: bool = False) -> int:
    from ..errors import ConfigurationError
    from .build import build_plugin_dir

    try:
        result = build_plugin_dir(Path(source), Path(output), entry=entry, python=python, dev=dev)
    except ConfigurationError as error:
        print(f"plutono-plugin build: {error}", file=sys.stderr)
        return 2
    print(f"built {result.plugin_id} in {result.directory}")
    for launcher in result.launchers:
        print(f"  {launcher.name}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``plutono-plugin`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["host"]:
        from .host import run as run_host

        return run_host(arguments[1:])
    parser = argparse.ArgumentParser(prog="plutono-plugin", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve a plugin (what Plutono starts)")
    run.add_argument("entry", help="module:attribute of the Plugin, e.g. plugin:plugin")
    build = commands.add_parser("build", help="assemble a Plutono plugin directory")
    build.add_argument("source", help="directory with plugin.json and the plugin module")
    build.add_argument("--out", required=True, help="plugin directory to write")
    build.add_argument("--entry", default="plugin:plugin", help="module:attribute of the Plugin")
    build.add_argument("--python", default=None, help="interpreter for the launchers")
    build.add_argument(
        "--dev", action="store_true", help="hot reload: restart when the source changes"
    )
    commands.add_parser("host", help="dev host: plutono-plugin host PLUGIN_DIR COMMAND ...")
    options = parser.parse_args(arguments)
    if options.command == "run":
        return _run(options.entry)
    return _build(options.source, options.out, options.entry, options.python, options.dev)
