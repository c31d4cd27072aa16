"""Plugin processes launched as Plutono launches them: environment, failures, timeouts, TCP."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from plutono_plugin._host.process import plugin_environment
from plutono_plugin._host.wire import (
    executable_path,
    read_manifest,
)
from plutono_plugin.errors import ConfigurationError, HandshakeError
from plutono_plugin.host import PluginExitedError, PluginHost
from tests._tools import write_shell_plugin

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="shell-script plugins")


def test_environment_order_lets_the_host_environment_and_go_plugin_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PL_PLUGIN_OVERRIDDEN", "from-plutono-env")
    monkeypatch.setenv("grafana_plugin_type", "wrong")
    environment = plugin_environment(
        "my-ds",
        plugin_settings={"api_url": "http://x", "overridden": "ini", "path": "/p", "ID": "x"},
        env={"EXTRA": "1"},
    )
    assert environment["PL_PLUGIN_API_URL"] == "http://x"
    assert environment["PL_PLUGIN_OVERRIDDEN"] == "from-plutono-env"
    assert "PL_PLUGIN_PATH" not in environment and "PL_PLUGIN_ID" not in environment
    assert (environment["PL_VERSION"], environment["PL_EDITION"]) == ("7.5.49", "Open Source")
    assert environment["EXTRA"] == "1"
    assert environment["grafana_plugin_type"] == "datasource"
    assert (environment["PLUGIN_MIN_PORT"], environment["PLUGIN_MAX_PORT"]) == ("10000", "25000")
    assert environment["PLUGIN_PROTOCOL_VERSIONS"] in ("1,2", "2,1")


@posix_only
async def test_missing_or_not_executable_binaries_are_reported(tmp_path: Path) -> None:
    folder = write_shell_plugin(tmp_path / "p", "exit 0\n")
    path = executable_path(read_manifest(folder))
    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="not executable"):
        await PluginHost.launch(folder)
    renamed = path.with_name("gpx_test_plan9_mips")
    path.rename(renamed)
    with pytest.raises(ConfigurationError, match="does not exist; found: gpx_test_plan9_mips"):
        await PluginHost.launch(folder)


@posix_only
async def test_bad_handshake_from_a_real_process_is_rejected(tmp_path: Path) -> None:
    folder = write_shell_plugin(tmp_path / "p", "echo oops >&2\necho 'starting up...'\nsleep 30\n")
    started = time.monotonic()
    with pytest.raises(HandshakeError, match="Unrecognized remote plugin message") as caught:
        await PluginHost.launch(folder)
    assert "oops" in str(caught.value)
    assert time.monotonic() - started < 10  # the sleeping child was killed, not waited for


@posix_only
async def test_early_exit_reports_exit_code_and_stderr(tmp_path: Path) -> None:
    script = (
        'echo "cwd=$(pwd) cookie=$grafana_plugin_type versions=$PLUGIN_PROTOCOL_VERSIONS" >&2\n'
    )
    script += 'echo "pl=$PL_VERSION setting=$PL_PLUGIN_REGION" >&2\nexit 3\n'
    folder = write_shell_plugin(tmp_path / "p", script)
    with pytest.raises(PluginExitedError) as caught:
        await PluginHost.launch(folder, plugin_settings={"region": "eu"})
    error = caught.value
    assert error.returncode == 3 and "exit code 3" in str(error)
    assert "cookie=datasource" in error.stderr and "pl=7.5.49 setting=eu" in error.stderr
    assert f"cwd={folder.resolve()}" not in error.stderr  # Plutono does not chdir (contract 1.1)
    assert "versions=1,2" in error.stderr or "versions=2,1" in error.stderr


@posix_only
async def test_relative_plugin_dir_works_although_the_plugin_runs_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_shell_plugin(tmp_path / "plugins" / "p", "echo started >&2\nexit 4\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PluginExitedError, match="exit code 4"):
        await PluginHost.launch(os.path.join("plugins", "p"))


@posix_only
async def test_version_one_answer_is_refused(tmp_path: Path) -> None:
    folder = write_shell_plugin(tmp_path / "p", "echo '1|1|unix|/tmp/nowhere|grpc|'\nsleep 30\n")
    with pytest.raises(HandshakeError, match="legacy"):
        await PluginHost.launch(folder)


@posix_only
async def test_silent_plugin_hits_the_start_timeout(tmp_path: Path) -> None:
    folder = write_shell_plugin(tmp_path / "p", "echo still thinking >&2\nexec sleep 30\n")
    with pytest.raises(HandshakeError, match="timeout while waiting for plugin to start"):
        await PluginHost.launch(folder, start_timeout=0.5)


@posix_only
async def test_unresponsive_plugin_is_killed_after_two_seconds(tmp_path: Path) -> None:
    lines = [
        "echo '1|2|unix|/nonexistent/plugin.sock|grpc|'",
        "echo 'stray print'",
        """echo '{"@level": "info", "@message": "ready", "port": 1}' >&2""",
        """echo '{"@level": "info", "@message": 7}' >&2""",
        "exec sleep 30",
    ]
    folder = write_shell_plugin(tmp_path / "p", "\n".join(lines) + "\n")
    async with PluginHost.start(folder) as host:
        assert host.handshake.address == "/nonexistent/plugin.sock"
        record = await host.wait_for_log("ready")
        assert (record.level, record.fields) == ("info", {"port": 1})
        result = await host.stop()
    assert not result.graceful and result.exit_code == -9
    assert 2.0 <= result.seconds < 10
    assert any("stdout after the handshake" in problem for problem in host.problems)
    assert any("crashes" in problem for problem in host.problems)
    assert not os.path.exists(host.cwd)  # noqa: ASYNC240 -- the temporary cwd is removed
    assert await host.stop() == result  # idempotent


@posix_only
async def test_wait_for_log_times_out_listing_what_was_seen(tmp_path: Path) -> None:
    script = "echo '1|2|unix|/nonexistent/p.sock|grpc|'\necho '[INFO] hello' >&2\nexec sleep 30\n"
    async with PluginHost.start(write_shell_plugin(tmp_path / "p", script)) as host:
        with pytest.raises(TimeoutError, match=r"\[INFO\] hello"):
            await host.wait_for_log("never", timeout=0.3)
        assert host.returncode is None


# -- end to end against the Go reference plugin (SDK v0.88.0) ------------------------------------


_TCP_PLUGIN = """
from plutono_plugin import Field, Frame, Plugin, Query

plugin = Plugin(network="tcp")


@plugin.query()
async def answer(query: Query) -> Frame:
    return Frame("answer", [Field("value", [42])])
"""


@posix_only
async def test_tcp_handshake_connects_within_the_port_range(tmp_path: Path) -> None:
    from plutono_plugin.cli.build import build_plugin_dir

    source = tmp_path / "src"
    source.mkdir()
    manifest = {
        "id": "tcp-ds",
        "name": "TCP test",
        "type": "datasource",
        "backend": True,
        "executable": "gpx_tcp",
    }
    (source / "plugin.json").write_text(json.dumps(manifest))
    (source / "tcp_plugin.py").write_text(_TCP_PLUGIN)
    folder = build_plugin_dir(source, tmp_path / "tcp-ds", entry="tcp_plugin:plugin").directory
    async with PluginHost.start(folder) as host:
        assert host.handshake.network == "tcp"
        address, _, port = host.handshake.address.rpartition(":")
        assert address == "127.0.0.1" and 10000 <= int(port) <= 25000
        frames, error = (await host.query({"refId": "A"}))["A"]
    assert error == "" and frames[0].field("value").values == [42]
