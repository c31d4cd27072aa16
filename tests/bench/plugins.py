"""The plugins the benchmark compares, laid out as Plutono expects them (contract 2.1).

* ``ours``: the quickstart example, built with :func:`plutono_plugin.cli.build.build_plugin_dir`;
* ``ours_frame``: ``tests/bench/bigframe`` (query type ``bench_frame``, numpy data), built alike;
* ``go``: the Go reference plugin (``tests/interop/goref``, SDK v0.88.0);
* ``ceiling``: ``tests/bench/ceiling/server.py``, grpclib + betterproto2 and nothing else,
  behind the same kind of ``/bin/sh`` launcher as a built plugin;
* ``shipped``: a copy of ``ours`` at a fresh path, started with a clean environment
  (``PATH=/usr/bin:/bin`` only, so the system ``python3``): as on a Plutono server;
* ``standalone``: the quickstart built with ``--standalone`` (a bundled interpreter).

Example::

    dirs = prepare_plugins(Path("/tmp/bench"))
    host.start(dirs["ours"].directory, dirs["ours"].plugin_id)
"""

from __future__ import annotations

import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from plutono_plugin.cli.build import build_plugin_dir
from tests._tools import ROOT
from tests.interop.gohost import GOREF_PLUGIN_ID, executable_file_name, goref_plugin_dir

BENCH = Path(__file__).resolve().parent
CEILING_ID = "plutono-bench-ceiling"
BIGFRAME_ID = "plutono-bench-bigframe"
QUICKSTART_ID = "plutono-quickstart-datasource"


@dataclass(frozen=True, slots=True)
class PluginDir:
    """A plugin directory, the id to start it with, and the environment to start it in."""

    directory: Path
    plugin_id: str
    clean_env: bool = False


def _ceiling_dir(parent: Path) -> PluginDir:
    folder = parent / CEILING_ID
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BENCH / "ceiling" / "plugin.json", folder / "plugin.json")
    launcher = folder / executable_file_name("gpx_ceiling")
    server = BENCH / "ceiling" / "server.py"
    launcher.write_text(
        "#!/bin/sh\n"
        "PYTHONDONTWRITEBYTECODE=1\nexport PYTHONDONTWRITEBYTECODE\n"
        f"exec {shlex.quote(sys.executable)} -B {shlex.quote(str(server))}\n",
        encoding="utf-8",
    )
    launcher.chmod(0o755)
    return PluginDir(folder, CEILING_ID)


def prepare_plugins(parent: Path) -> dict[str, PluginDir]:
    """Build every plugin directory under ``parent`` (Go programs through ``go_binary``)."""
    parent.mkdir(parents=True, exist_ok=True)
    ours = build_plugin_dir(ROOT / "examples" / "quickstart", parent / QUICKSTART_ID)
    frame = build_plugin_dir(BENCH / "bigframe", parent / BIGFRAME_ID)
    shipped = parent / "shipped" / QUICKSTART_ID
    shutil.copytree(ours.directory, shipped, symlinks=True)
    standalone = build_plugin_dir(
        ROOT / "examples" / "quickstart", parent / "standalone" / QUICKSTART_ID, standalone=True
    )
    return {
        "ours": PluginDir(ours.directory, ours.plugin_id),
        "shipped": PluginDir(shipped, QUICKSTART_ID, clean_env=True),
        "standalone": PluginDir(standalone.directory, QUICKSTART_ID, clean_env=True),
        "ours_frame": PluginDir(frame.directory, frame.plugin_id),
        "go": PluginDir(goref_plugin_dir(parent), GOREF_PLUGIN_ID),
        "ceiling": _ceiling_dir(parent),
    }
