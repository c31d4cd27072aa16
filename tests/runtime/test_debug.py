"""Debugger attach: a plugin started with ``debug`` listens for debugpy on a logged loopback port.

The plugin runs as Plutono runs it (the dev host); the debugger side is a minimal Debug Adapter
Protocol client over a real socket, speaking to debugpy's real adapter.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest

from plutono_plugin._runtime.debug import DebugOptions, debug_options
from plutono_plugin.host import LogRecord, PluginHost, target
from tests._prebuilt import prebuilt


@pytest.fixture(scope="module")
def reloadable_dir(request: pytest.FixtureRequest) -> Path:
    """``tests/plugins/reloadable`` as a --dev build for this machine, built before the tests.

    A --dev build carries debugpy (the debug extra); a release build only if the plugin's
    requirements.txt lists it.
    """
    return prebuilt(request, "reloadable_dir")


def _port(record: LogRecord) -> int:
    return int(record.fields["port"])


async def _dap_attach(port: int) -> list[dict[str, object]]:
    """Attach like VS Code does (initialize, attach, configurationDone); the messages received."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    received: list[dict[str, object]] = []

    async def send(seq: int, command: str, arguments: dict[str, object]) -> None:
        body = json.dumps(
            {"seq": seq, "type": "request", "command": command, "arguments": arguments}
        ).encode()
        writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()

    async def receive_until(predicate: str) -> None:
        while True:
            header = await reader.readuntil(b"\r\n\r\n")
            length = int(header.split(b":")[1].split(b"\r\n")[0])
            message = json.loads(await reader.readexactly(length))
            received.append(message)
            if predicate in (message.get("event"), message.get("command")):
                return

    await send(1, "initialize", {"clientID": "test", "adapterID": "debugpy"})
    await receive_until("initialize")
    await send(2, "attach", {"justMyCode": True})
    await receive_until("initialized")
    await send(3, "configurationDone", {})
    await receive_until("configurationDone")
    writer.close()
    return received


def test_debug_settings_parse_and_a_typo_leaves_debugging_off() -> None:
    assert debug_options({}) is None
    assert debug_options({"debug": "off"}) is None
    assert debug_options({"debug": "on"}) == DebugOptions(5678, False)
    assert debug_options({"debug": "wait", "debug_port": "0"}) == DebugOptions(0, True)
    assert debug_options({"debug": "wiat"}) is None
    assert debug_options({"debug": "1", "debug_port": "99999"}) == DebugOptions(5678, False)


async def test_debug_on_listens_on_a_logged_loopback_port_and_still_serves(
    reloadable_dir: Path,
) -> None:
    settings = {"debug": "on", "debug_port": "0"}
    async with PluginHost.start(reloadable_dir, plugin_settings=settings) as host:
        record = await host.wait_for_log("debugger listening")
        port = _port(record)
        assert record.level == "info"
        assert record.message == f"debugger listening on 127.0.0.1:{port}"
        assert record.fields["address"] == f"127.0.0.1:{port}"
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # something accepts debugger connections there
        frames, error = (await host.query(target("A")))["A"]
        assert error == "" and frames[0].fields[0].values == [1]
        assert host.problems == []  # nothing on stdout, no raw stderr lines


async def test_debug_wait_holds_the_handshake_until_a_debugger_attaches(
    reloadable_dir: Path,
) -> None:
    listening: asyncio.Queue[int] = asyncio.Queue()

    def on_log(record: LogRecord) -> None:
        if record.message.startswith("debugger listening"):
            listening.put_nowait(_port(record))

    began = time.monotonic()
    launch = asyncio.create_task(
        PluginHost.launch(
            reloadable_dir, plugin_settings={"debug": "wait", "debug_port": "0"}, on_log=on_log
        )
    )
    port = await asyncio.wait_for(listening.get(), 10)
    await asyncio.sleep(1.0)
    assert not launch.done(), "the handshake came before a debugger attached"
    messages = await _dap_attach(port)
    assert any(m.get("command") == "initialize" and m.get("success") for m in messages)
    host = await asyncio.wait_for(launch, 10)
    try:
        assert time.monotonic() - began > 1.0
        assert [r for r in host.logs if r.message == "debugger attached"]
        frames, error = (await host.query(target("A")))["A"]
        assert error == "" and frames[0].fields[0].values == [1]
    finally:
        await host.stop()


async def test_debug_wait_gives_up_before_the_host_start_timeout(reloadable_dir: Path) -> None:
    settings = {"debug": "wait", "debug_port": "0", "debug_wait_seconds": "0.5"}
    async with PluginHost.start(reloadable_dir, plugin_settings=settings) as host:
        warning = await host.wait_for_log("no debugger attached in time")
        assert warning.level == "warn"
        assert (await host.query(target("A")))["A"].error == ""


async def test_a_taken_port_is_logged_and_the_plugin_serves_without_debugger(
    reloadable_dir: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = {"debug": "on", "debug_port": str(taken.getsockname()[1])}
        async with PluginHost.start(reloadable_dir, plugin_settings=settings) as host:
            error = await host.wait_for_log("the debugger cannot listen")
            assert error.level == "error"
            assert (await host.query(target("A")))["A"].error == ""
