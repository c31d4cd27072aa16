"""Hot reload under the dev host: a ``--dev`` build exits on a source edit and comes back new.

The plugin source is copied to a temporary directory, built with ``--dev`` (or without, to show
a normal build never reloads), started by :class:`PluginHost` with Plutono's restart policy, and
edited on disk like an author's editor would.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest

from plutono_plugin._build.targets import host_platform
from plutono_plugin._runtime.reload import reload_paths
from plutono_plugin.cli.build import build_plugin_dir
from plutono_plugin.host import PluginHost, target
from tests._tools import ROOT

SOURCE = ROOT / "tests" / "plugins" / "reloadable"
WAIT_S = 45.0
"""Bound of every wait here: a hang detector, not a measurement (a busy machine takes seconds
to start a plugin or notice an edit; reload timings are in docs/development.md)."""

pytestmark = pytest.mark.timeout(180)


def reloadable_copy(tmp_path: Path, *, dev: bool) -> tuple[Path, Path]:
    """(source file to edit, built plugin directory)."""
    source = tmp_path / "src"
    shutil.copytree(SOURCE, source)
    # this machine only: the other platforms' trees would be linked for nothing, on the clock
    build_plugin_dir(source, tmp_path / "plugin", dev=dev, platforms=[host_platform()])
    return source / "plugin.py", tmp_path / "plugin"


def set_version(plugin_file: Path, version: str) -> None:
    text = plugin_file.read_text()
    start = text.index("VERSION = ")
    end = text.index("\n", start)
    plugin_file.write_text(text[:start] + f"VERSION = {version}" + text[end:])


async def version_of(host: PluginHost, duration_ms: int = 0) -> int:
    frames, error = (await host.query(target("A", durationMs=duration_ms)))["A"]
    assert error == "", error
    return int(frames[0].fields[0].values[0])


def test_reload_paths_come_from_the_setting_only() -> None:
    assert reload_paths({}) == []
    assert reload_paths({"dev_reload": "off"}) == []
    assert reload_paths({"dev_reload": "/a:/b"}) == [Path("/a"), Path("/b")]


async def test_a_source_edit_finishes_the_call_in_flight_then_serves_the_new_code(
    tmp_path: Path,
) -> None:
    plugin_file, plugin_dir = reloadable_copy(tmp_path, dev=True)
    async with PluginHost.start(plugin_dir, restart=True) as host:
        await host.wait_for_log("hot reload: watching", timeout=WAIT_S)
        assert await version_of(host) == 1
        in_flight = asyncio.create_task(version_of(host, duration_ms=800))
        await asyncio.sleep(0.2)
        edited = time.monotonic()
        set_version(plugin_file, "2")
        assert await in_flight == 1  # answered by the old code, not cut off
        await host.wait_for_restarts(1, timeout=WAIT_S)
        assert await version_of(host) == 2
        reload_seconds = time.monotonic() - edited
        assert reload_seconds < WAIT_S, reload_seconds  # a hang detector; timings: docs
        assert [r for r in host.logs if r.message.startswith("hot reload: source changed")]
        assert host.problems == []


async def test_a_syntax_error_keeps_the_old_code_serving_until_fixed(tmp_path: Path) -> None:
    plugin_file, plugin_dir = reloadable_copy(tmp_path, dev=True)
    async with PluginHost.start(plugin_dir, restart=True) as host:
        await host.wait_for_log("hot reload: watching", timeout=WAIT_S)
        set_version(plugin_file, "(3")
        error = await host.wait_for_log("does not compile", timeout=WAIT_S)
        assert "plugin.py" in str(error.fields["errors"])
        assert await version_of(host) == 1 and host.restarts == 0
        set_version(plugin_file, "3")
        await host.wait_for_restarts(1, timeout=WAIT_S)
        assert await version_of(host) == 3


async def test_a_normal_build_never_watches_its_source(tmp_path: Path) -> None:
    plugin_file, plugin_dir = reloadable_copy(tmp_path, dev=False)
    assert "DEV_RELOAD" not in (plugin_dir / "gpx_reloadable_linux_amd64").read_text()
    async with PluginHost.start(plugin_dir, restart=True) as host:
        set_version(plugin_file, "2")
        await asyncio.sleep(1.5)
        assert host.restarts == 0 and host.returncode is None
        assert await version_of(host) == 1
        assert not [r for r in host.logs if "hot reload" in r.message]


async def test_restart_waits_are_bounded_and_need_restart(tmp_path: Path) -> None:
    _, plugin_dir = reloadable_copy(tmp_path, dev=False)
    async with PluginHost.start(plugin_dir) as host:
        with pytest.raises(RuntimeError, match="restart=True"):
            await host.wait_for_restarts(1)
    async with PluginHost.start(plugin_dir, restart=True) as host:
        with pytest.raises(TimeoutError):
            await host.wait_for_restarts(1, timeout=0.2)
