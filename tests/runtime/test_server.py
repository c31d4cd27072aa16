"""PluginServer in this process: start → handshake → calls over a real socket → one drain."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from grpclib.client import Channel

from plutono_plugin import Field, Frame, Plugin, Query, Settings
from plutono_plugin._host.client import PluginClient
from plutono_plugin._host.requests import default_context
from plutono_plugin._host.wire import parse_handshake
from plutono_plugin._proto.plugin import Empty, GrpcControllerStub
from plutono_plugin._runtime.server import PluginServer


def make_plugin(events: list[str], network: str) -> Plugin:
    @asynccontextmanager
    async def lifespan(plugin: Plugin) -> AsyncIterator[None]:
        events.append("started")
        yield
        events.append("stopped")

    plugin = Plugin(network=network, lifespan=lifespan, shutdown_grace=0.3)

    @plugin.query("echo")
    async def echo(query: Query) -> Frame:
        return Frame("", [Field("ref", [query.ref_id])])

    @plugin.query("stuck")
    async def stuck(query: Query) -> Frame:
        try:
            await anyio.sleep_forever()
        finally:
            events.append("stuck call cancelled")
        raise AssertionError("unreachable")

    return plugin


@pytest.mark.parametrize("network", ["unix", "tcp"])
async def test_server_serves_over_its_socket_and_stops_with_one_drain(network: str) -> None:
    events: list[str] = []
    read_fd, write_fd = os.pipe()
    server = PluginServer(
        make_plugin(events, network),
        settings=Settings(),
        environ={"PLUGIN_MIN_PORT": "10000", "PLUGIN_MAX_PORT": "25000"},
        handshake_fd=write_fd,
        capture_stdout=False,  # this process's stdout belongs to pytest
    )
    await server.start()
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        handshake = parse_handshake(pipe.readline())
    assert events == ["started"]
    assert (handshake.network, handshake.address) == (network, server.address)
    if network == "unix":
        channel = Channel(path=handshake.address)
    else:
        host, _, port = handshake.address.rpartition(":")
        channel = Channel(host, int(port))
    client = PluginClient(channel, default_context("test-ds", "datasource", now_ms=1))
    stuck: asyncio.Task[object] | None = None
    try:
        assert await client.ping()
        answer = await client.query({"refId": "A", "queryType": "echo"})
        assert answer["A"].frames[0].fields[0].values == ["A"]
        stuck = asyncio.create_task(client.query({"refId": "B", "queryType": "stuck"}))
        await asyncio.sleep(0.1)
        waiter = asyncio.create_task(server.wait_closed())
        loop = asyncio.get_running_loop()
        started = loop.time()
        await GrpcControllerStub(channel).shutdown(Empty())
        answered = loop.time() - started
        await waiter
        stopped = loop.time() - started
    finally:
        if stuck is not None:
            stuck.cancel()
            await asyncio.gather(stuck, return_exceptions=True)
        channel.close()
    assert 0.3 <= answered < 0.6  # the reply waits for the drain (grace 0.3 s), once
    assert stopped < answered + 0.6  # teardown follows the reply, no second grace period
    # the stuck call was cancelled after the grace period, before the lifespan's teardown
    assert events == ["started", "stuck call cancelled", "stopped"]
    if network == "unix":
        assert not await anyio.Path(handshake.address).exists()  # socket removed
