"""The process contract, checked on a real plugin process launched exactly as the host does.

Contract 1.3-1.6 (cookie, versions, listener, handshake line), 1.10-1.12 (services, stdout,
signals, shutdown). The Go host repeats the host-facing checks in tests/interop.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from grpclib.exceptions import StreamTerminatedError

from plutono_plugin._proto.plugin import Empty, GrpcControllerStub
from plutono_plugin._runtime.handshake import NOT_A_PLUGIN_TEXT
from plutono_plugin.host import PluginHost

LAUNCHER = "gpx_lifecycle_linux_amd64"
HANDSHAKE = re.compile(r"^1\|2\|(unix|tcp)\|([^|]+)\|grpc\|$")


def launch(plugin_dir: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(plugin_dir / LAUNCHER)],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def host_env(base: dict[str, str], versions: str = "1,2", **extra: str) -> dict[str, str]:
    return {
        **base,
        "grafana_plugin_type": "datasource",
        "PLUGIN_MIN_PORT": "10000",
        "PLUGIN_MAX_PORT": "25000",
        "PLUGIN_PROTOCOL_VERSIONS": versions,
        **extra,
    }


def read_handshake(process: subprocess.Popen[bytes], timeout: float = 30.0) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    os.set_blocking(process.stdout.fileno(), False)
    while not line.endswith(b"\n"):
        if time.monotonic() > deadline:
            raise AssertionError(f"no handshake within {timeout} s: {line!r}")
        chunk = process.stdout.read(1)
        if chunk:
            line += chunk
        elif process.poll() is not None:
            assert process.stderr is not None
            raise AssertionError(f"exited {process.returncode}: {process.stderr.read()!r}")
        else:
            time.sleep(0.005)
    return line.decode()


def run_to_exit(
    plugin_dir: Path, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[bytes]:
    """Run a plugin that is expected to exit on its own (refused start)."""
    return subprocess.run(
        [str(plugin_dir / LAUNCHER)], env=env, cwd=cwd, capture_output=True, timeout=30
    )


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(10)


@pytest.mark.parametrize("cookie", [None, "app", "Datasource"])
def test_missing_or_wrong_cookie_exits_1_with_go_plugin_text(
    lifecycle_dir: Path, clean_env: dict[str, str], tmp_path: Path, cookie: str | None
) -> None:
    env = host_env(clean_env)
    if cookie is None:
        del env["grafana_plugin_type"]
    else:
        env["grafana_plugin_type"] = cookie
    result = run_to_exit(lifecycle_dir, env, tmp_path)
    assert result.returncode == 1
    assert result.stderr.decode() == NOT_A_PLUGIN_TEXT
    assert result.stdout == b""


def test_version_1_only_exits_1_naming_offered_versions(
    lifecycle_dir: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    result = run_to_exit(lifecycle_dir, host_env(clean_env, versions="1"), tmp_path)
    assert result.returncode == 1
    assert result.stdout == b""
    message = result.stderr.decode()
    assert "'1'" in message and "version 2" in message


@pytest.mark.parametrize("versions", ["2,1", "1,2", "bogus,2", " 2 "])
def test_handshake_answers_2_first_line_flushed_socket_private(
    lifecycle_dir: Path, clean_env: dict[str, str], tmp_path: Path, versions: str
) -> None:
    with launch(lifecycle_dir, host_env(clean_env, versions=versions), tmp_path) as process:
        try:
            line = read_handshake(process)  # arrives while the process still runs: flushed
            match = HANDSHAKE.match(line.rstrip("\n"))
            assert match, line
            assert match.group(1) == "unix"
            socket_path = Path(match.group(2))
            assert stat.S_ISSOCK(socket_path.stat().st_mode)
            assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
        finally:
            assert stop(process) == 0
        assert not socket_path.exists() and not socket_path.parent.exists()
        assert process.stdout is not None and process.stdout.read() in (b"", None)
        assert process.stderr is not None
        stderr = process.stderr.read()
    if versions.startswith("bogus"):
        assert b"invalid plugin version 'bogus'" in stderr


def test_tcp_listener_is_loopback_inside_the_port_range(
    lifecycle_dir: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    env = host_env(clean_env, TEST_NETWORK="tcp", PLUGIN_MIN_PORT="20000", PLUGIN_MAX_PORT="20100")
    with launch(lifecycle_dir, env, tmp_path) as process:
        try:
            match = HANDSHAKE.match(read_handshake(process).rstrip("\n"))
            assert match and match.group(1) == "tcp"
            host, port = match.group(2).rsplit(":", 1)
            assert host == "127.0.0.1" and 20000 <= int(port) <= 20100
        finally:
            assert stop(process) == 0


def test_failing_lifespan_exits_1_before_the_handshake(
    lifecycle_dir: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    result = run_to_exit(lifecycle_dir, host_env(clean_env, TEST_FAIL_START="1"), tmp_path)
    assert result.returncode == 1
    assert result.stdout == b""
    assert b"upstream configuration is missing" in result.stderr
    assert b'"@message":"plugin failed to start"' in result.stderr


async def test_print_after_handshake_never_reaches_host_stdout(lifecycle_dir: Path) -> None:
    async with PluginHost.start(lifecycle_dir) as host:
        answer = await host.query({"refId": "A", "queryType": "print"})
        assert answer["A"].error == ""
        assert await host.ping()
        # The captured output reaches the host twice: logged at info on stderr (the record
        # below) and as raw GRPCStdio chunks, which the dev host keeps at debug.
        await host.wait_for_log(lambda r: "raw write to fd 1" in r.message and r.level == "info")
        await host.wait_for_log("line 1999")
        # Nothing reached the host's stdout pipe after the handshake line.
        assert not [problem for problem in host.problems if "stdout" in problem]


async def test_sigterm_stops_gracefully_and_runs_lifespan_teardown(
    lifecycle_dir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    async with PluginHost.start(lifecycle_dir, env={"TEST_MARKER": str(marker)}) as host:
        pid = host_pid(host)
        os.kill(pid, signal.SIGINT)  # ignored under a host (contract 1.10)
        await asyncio.sleep(0.2)
        assert await host.ping()
        os.kill(pid, signal.SIGTERM)
        await wait_exit(host)
        assert host.returncode == 0
    assert marker.read_text() == "started\nstopped\n"


async def test_in_flight_call_finishes_within_grace_on_sigterm(lifecycle_dir: Path) -> None:
    async with PluginHost.start(lifecycle_dir) as host:
        call = asyncio.create_task(
            host.query({"refId": "A", "queryType": "slow", "durationMs": 600})
        )
        await asyncio.sleep(0.2)
        os.kill(host_pid(host), signal.SIGTERM)
        answer = await call
        assert answer["A"].error == ""
        await wait_exit(host)
        assert host.returncode == 0


async def test_second_sigterm_exits_at_once(lifecycle_dir: Path) -> None:
    async with PluginHost.start(lifecycle_dir) as host:
        call = asyncio.create_task(
            host.query({"refId": "A", "queryType": "slow", "durationMs": 5000})
        )
        await asyncio.sleep(0.2)
        pid = host_pid(host)
        os.kill(pid, signal.SIGTERM)
        await asyncio.sleep(0.1)
        started = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        await wait_exit(host)
        assert time.monotonic() - started < 0.5
        assert host.returncode == 128 + signal.SIGTERM
        with pytest.raises(StreamTerminatedError):
            await call  # the abandoned call fails on the host side, as the host would see it


def test_plugin_exits_when_its_host_dies(
    lifecycle_dir: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    # A stand-in host: starts the plugin, reports its pid, then is SIGKILLed by the test.
    script = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([{str(lifecycle_dir / LAUNCHER)!r}], stdout=subprocess.PIPE,"
        " stderr=subprocess.DEVNULL)\n"
        "p.stdout.readline()\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script],
        env=host_env(clean_env),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
    ) as fake_host:
        assert fake_host.stdout is not None
        plugin_pid = int(fake_host.stdout.readline())
        fake_host.kill()
        fake_host.wait()
    started = time.monotonic()
    while process_alive(plugin_pid):
        assert time.monotonic() - started < 2.0, "plugin still running 2 s after its host died"
        time.sleep(0.05)


def host_pid(host: PluginHost) -> int:
    process = host._process._proc
    assert process is not None
    return process.pid


async def wait_exit(host: PluginHost, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while host.returncode is None:
        assert time.monotonic() < deadline, "plugin did not exit"
        await asyncio.sleep(0.02)


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for a reaper counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


@pytest.mark.parametrize("how", ["shutdown", "sigterm"])
async def test_a_stuck_call_delays_the_exit_by_one_grace_period_only(
    lifecycle_dir: Path, how: str
) -> None:
    grace = 1.5  # Plugin's default shutdown_grace, which the lifecycle plugin keeps
    async with PluginHost.start(lifecycle_dir) as host:
        call = asyncio.create_task(
            host.query({"refId": "A", "queryType": "slow", "durationMs": 10_000})
        )
        await asyncio.sleep(0.2)
        started = time.monotonic()
        if how == "shutdown":
            # The host's Shutdown RPC, with the connection (and the stuck call) kept open
            shutdown = asyncio.create_task(GrpcControllerStub(host.channel).shutdown(Empty()))
            await wait_exit(host)
            assert host.returncode == 0
            assert shutdown.done()  # answered before the exit, after the drain
        else:
            os.kill(host_pid(host), signal.SIGTERM)
            await wait_exit(host)
            assert host.returncode == 0
        # One drain: the exit follows the grace period at once, however the stop was asked.
        assert time.monotonic() - started < grace + 0.2
        with pytest.raises(Exception):  # noqa: B017 - cancelled on the plugin side
            await call
