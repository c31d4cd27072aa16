"""9: start-up as a plugin author meets it (issue #18): a new project, and a pandas plugin.

* :func:`measure_new_project` times ``plutono-plugin new DIR`` → ``plutono-plugin build`` (this
  machine's platform) → ``plutono-plugin host … query`` (the dev host, ``PluginHost``) answering
  the scaffold's ``constant`` query: three commands as the new project's README lists them,
  each its own process, with the dependency cache warm.
* :func:`measure_pandas` times the cold start (exec → handshake, through the Go host) of
  ``tests/bench/pandasplugin`` (``import pandas`` in ``plugin.py``, ``pandas`` in
  ``requirements.txt``) beside the quickstart's, both shipped copies started with a clean
  environment (``PATH=/usr/bin:/bin``), alternated.

Example::

    measure_new_project(bench)
    measure_pandas(bench)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plutono_plugin._build.targets import host_platform
from plutono_plugin.cli.build import build_plugin_dir
from tests._tools import go_binary
from tests.bench.plugins import BENCH, PluginDir
from tests.interop.gohost import GoHost

if TYPE_CHECKING:
    from tests.bench.runner import Bench

PANDAS_ID = "plutono-bench-pandas"
CONSTANT = json.dumps({"refId": "A", "queryType": "constant"})
"""The scaffold's query type (``plutono_plugin/cli/templates/datasource/plugin.py.tmpl``)."""


def _cli() -> Path:
    """The ``plutono-plugin`` script beside this interpreter (the venv's)."""
    return Path(sys.executable).with_name("plutono-plugin")


def _run(*args: str | Path) -> str:
    out = subprocess.run(
        [str(_cli()), *map(str, args)], capture_output=True, text=True, timeout=600, check=False
    )
    if out.returncode:
        command = " ".join(map(str, args[:2]))
        raise RuntimeError(f"plutono-plugin {command} failed ({out.returncode}): {out.stderr}")
    return out.stdout


def measure_new_project(bench: Bench) -> None:
    """9a: seconds from ``new`` to the first answered query, stages in the extras.

    The first ``Config.new_warmup`` runs fill the dependency cache and are not recorded.
    """
    config = bench.config
    platform = host_platform()
    stages: dict[str, list[float]] = {"new_s": [], "build_s": [], "query_s": []}
    for rep in range(config.new_warmup + config.new_reps):
        project = bench.workdir / "new" / str(rep) / "weather"
        began = time.monotonic()
        _run("new", project)
        scaffolded = time.monotonic()
        plugin_id = json.loads((project / "src" / "plugin.json").read_text())["id"]
        output = project / "build" / plugin_id
        _run("build", project / "src", "--out", output, "--platform", platform)
        built = time.monotonic()
        answer = _run("host", output, "query", CONSTANT)
        answered = time.monotonic()
        if "refId A: 1 frame(s)" not in answer:
            raise RuntimeError(f"the new project's query was not answered: {answer}")
        if rep < config.new_warmup:
            continue
        bench.add("new_to_query_s", "ours", answered - began)
        for key, seconds in zip(
            stages, (scaffolded - began, built - scaffolded, answered - built), strict=True
        ):
            stages[key].append(round(seconds, 3))
    bench.extras["new_to_query_stages_s"] = stages


def _pandas_plugin(bench: Bench) -> PluginDir:
    """Build the pandas plugin for this platform and copy it to a fresh path (shipped)."""
    built = build_plugin_dir(
        BENCH / "pandasplugin",
        bench.workdir / "plugins" / "pandas" / PANDAS_ID,
        platforms=(host_platform(),),
    )
    shipped = bench.workdir / "plugins" / "shipped-pandas" / PANDAS_ID
    shutil.copytree(built.directory, shipped, symlinks=True)
    return PluginDir(shipped, PANDAS_ID, clean_env=True)


def _handshake_ms(bench: Bench, plugin: PluginDir, name: str) -> float:
    host = GoHost(
        go_binary("host"),
        stderr_path=bench.workdir / f"host-cold-{name}.stderr",
        env={"PATH": "/usr/bin:/bin"},
        inherit_env=False,
    )
    try:
        reply: dict[str, Any] = dict(host.start(plugin.directory, plugin.plugin_id))
        if not reply.get("ok"):
            raise RuntimeError(f"start {name} failed: {reply.get('error')}")
        killed: dict[str, Any] = dict(host.kill())
        if not killed.get("ok"):
            raise RuntimeError(f"kill {name} failed: {killed.get('error')}")
        return float(reply["handshake_ms"])
    finally:
        host.close()


def measure_pandas(bench: Bench) -> None:
    """9b: cold start of the shipped pandas plugin beside the shipped quickstart."""
    plugins = {"quickstart": bench.plugins["shipped"], "pandas": _pandas_plugin(bench)}
    names = list(plugins)
    for rep in range(bench.config.cold_starts):
        shift = rep % len(names)
        for who in names[shift:] + names[:shift]:
            milliseconds = _handshake_ms(bench, plugins[who], who)
            bench.add("cold_start_pandas_ms", who, milliseconds)
