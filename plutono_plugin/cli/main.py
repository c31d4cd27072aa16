"""The ``plutono-plugin`` command (also ``python -m plutono_plugin``).

* ``new DIR [--type datasource|app]`` — write a plugin project that works as written.
* ``run module:attribute`` — serve a plugin; what a launcher runs when Plutono starts it.
* ``build SOURCE --out DIR`` — assemble a self-contained plugin directory for every platform.
* ``package PLUGIN_DIR`` — zip it per platform, laid out as Plutono's plugin install expects.
* ``doctor PLUGIN_DIR`` — launch it exactly as Plutono would and report what would go wrong.
* ``host PLUGIN_DIR COMMAND`` — the dev host: start a built plugin as Plutono does and call it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .serve import load_plugin, serve

if TYPE_CHECKING:
    import argparse

__all__ = ("build_parser", "load_plugin", "main", "serve")


def _build(options: argparse.Namespace) -> int:
    from ..errors import ConfigurationError
    from .build import build_plugin_dir

    try:
        result = build_plugin_dir(
            Path(options.source),
            Path(options.out),
            entry=options.entry,
            platforms=options.platform,
            python_versions=options.python_version,
            python=options.python,
            standalone=options.standalone,
            refresh=options.refresh,
            dev=options.dev,
            log=lambda text: print(f"  {text}", file=sys.stderr),
        )
    except (ConfigurationError, OSError) as error:  # OSError: an unreadable file, a full disk
        print(f"plutono-plugin build: {error}", file=sys.stderr)
        return 2
    print(f"built {result.plugin_id} in {result.directory}")
    for launcher in result.launchers:
        print(f"  {launcher.name}")
    for tree in result.dependencies:
        print(f"  lib/deps/{tree}")
    return 0


def _package(options: argparse.Namespace) -> int:
    from ..errors import ConfigurationError
    from .package import package_plugin

    try:
        archives = package_plugin(
            Path(options.plugin_dir), Path(options.out), allow_dev=options.allow_dev
        )
    except (ConfigurationError, OSError) as error:
        print(f"plutono-plugin package: {error}", file=sys.stderr)
        return 2
    for archive in archives:
        print(archive)
    return 0


def _new(options: argparse.Namespace) -> int:
    from ..errors import ConfigurationError
    from .new import new_project

    directory = Path(options.directory)
    try:
        new_project(directory, plugin_type=options.type, plugin_id=options.id, name=options.name)
    except ConfigurationError as error:
        print(f"plutono-plugin new: {error}", file=sys.stderr)
        return 2
    print(f"wrote a {options.type} plugin project in {directory}; next: {directory}/README.md")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command but ``host`` (:func:`plutono_plugin.cli.host.run`)."""
    import argparse  # here: a shipped plugin imports this package at every start (cold start)

    parser = argparse.ArgumentParser(prog="plutono-plugin", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="write a new plugin project (tests included)")
    new.add_argument("directory", help="the project's directory (new or empty)")
    new.add_argument("--type", choices=("datasource", "app"), default="datasource")
    new.add_argument("--id", help="plugin id (default: <directory name>-<type>)")
    new.add_argument("--name", help="plugin name shown in Plutono (default: the directory name)")
    run = commands.add_parser("run", help="serve a plugin (what Plutono starts)")
    run.add_argument("entry", help="module:attribute of the Plugin, e.g. plugin:plugin")
    build = commands.add_parser("build", help="assemble a Plutono plugin directory")
    build.add_argument("source", help="directory with plugin.json and the plugin module")
    build.add_argument("--out", required=True, help="plugin directory to write")
    build.add_argument(
        "--entry",
        default="plugin:plugin",
        help="module:attribute of the Plugin (default plugin:plugin: `plugin` in plugin.py)",
    )
    build.add_argument(
        "--platform",
        action="append",
        default=[],
        help="linux_amd64, linux_arm64, darwin_amd64, darwin_arm64 (repeat; default: all)",
    )
    build.add_argument(
        "--python-version",
        action="append",
        default=[],
        metavar="X.Y",
        help="target Python (repeat; default: this interpreter's)",
    )
    build.add_argument(
        "--python",
        default="python3",
        help="interpreter the launchers run (default python3; PL_PLUGIN_PYTHON overrides)",
    )
    build.add_argument(
        "--standalone",
        action="store_true",
        help="bundle an interpreter (PyInstaller) for this machine's platform",
    )
    build.add_argument("--refresh", action="store_true", help="resolve dependencies again")
    build.add_argument(
        "--dev", action="store_true", help="hot reload: run the source, restart when it changes"
    )
    package = commands.add_parser("package", help="zip a built directory for Plutono")
    package.add_argument("plugin_dir", help="directory written by plutono-plugin build")
    package.add_argument("--out", default="dist", help="folder for the zips (default dist)")
    package.add_argument(
        "--allow-dev", action="store_true", help="zip a --dev build too (refused otherwise)"
    )
    doctor = commands.add_parser("doctor", help="launch a built plugin as Plutono would")
    doctor.add_argument("plugin_dir", help="directory written by plutono-plugin build")
    doctor.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE")
    doctor.add_argument("--timeout", type=float, default=60.0, help="start timeout in seconds")
    doctor.add_argument("--json-data", metavar="JSON", help="the datasource's jsonData")
    doctor.add_argument("--secure-json-data", metavar="JSON", help="decrypted secureJsonData")
    commands.add_parser("host", help="dev host: plutono-plugin host PLUGIN_DIR COMMAND ...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``plutono-plugin`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["host"]:
        from .host import run as run_host

        return run_host(arguments[1:])
    options = build_parser().parse_args(arguments)
    if options.command == "run":
        return serve(options.entry, search_cwd=True)
    if options.command == "new":
        return _new(options)
    if options.command == "package":
        return _package(options)
    if options.command == "doctor":
        from .doctor import run as run_doctor

        return run_doctor(options)
    return _build(options)
