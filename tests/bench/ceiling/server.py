"""The bare-stack ceiling: grpclib + our generated betterproto2 messages, and nothing else.

It answers ``QueryData`` with a precomputed ``QueryDataResponse`` (the Arrow frames in the file
named by ``BENCH_CEILING_FRAMES``: one base64 frame per line, answered for refId ``A``), so its
throughput is what the stack itself costs per call: HTTP/2, request decoding, response encoding.
No framework code runs per call. The go-plugin side is the minimum the host needs: cookie check,
a unix socket, the handshake line; ``Shutdown`` ends the process; ``StreamStdio`` and the broker
stream stay open until then (contract 1.3-1.6, 1.10, 1.12).

Launched by a ``/bin/sh`` launcher that ``tests.bench.plugins`` writes, like a built plugin.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import AsyncIterator

import grpclib.server

from plutono_plugin._proto import google, plugin, pluginv2


def _response() -> pluginv2.QueryDataResponse:
    path = os.environ.get("BENCH_CEILING_FRAMES", "")
    frames = []
    if path:
        with open(path, encoding="ascii") as source:
            frames = [base64.b64decode(line) for line in source.read().split()]
    return pluginv2.QueryDataResponse(responses={"A": pluginv2.DataResponse(frames=frames)})


class Data(pluginv2.DataBase):
    """``QueryData`` → the precomputed answer."""

    def __init__(self, response: pluginv2.QueryDataResponse) -> None:
        self.response = response

    async def query_data(self, message: pluginv2.QueryDataRequest) -> pluginv2.QueryDataResponse:
        """Return the precomputed response whatever was asked."""
        return self.response


class Controller(plugin.GrpcControllerBase):
    """``Shutdown`` → stop serving; the process then exits."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop

    async def shutdown(self, message: plugin.Empty) -> plugin.Empty:
        """Ask the main task to stop and answer at once."""
        self.stop.set()
        return plugin.Empty()


class Stdio(plugin.GrpcStdioBase):
    """``StreamStdio``: nothing is ever written; the stream stays open until shutdown."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop

    async def stream_stdio(self, message: google.protobuf.Empty) -> AsyncIterator[plugin.StdioData]:
        """Block until shutdown, yielding nothing."""
        await self.stop.wait()
        nothing: tuple[plugin.StdioData, ...] = ()
        for item in nothing:  # an async generator that yields nothing
            yield item


class Broker(plugin.GrpcBrokerBase):
    """``StartStream``: no sub-connections are ever brokered; open until shutdown."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop

    async def start_stream(
        self, messages: AsyncIterator[plugin.ConnInfo]
    ) -> AsyncIterator[plugin.ConnInfo]:
        """Block until shutdown, yielding nothing."""
        await self.stop.wait()
        nothing: tuple[plugin.ConnInfo, ...] = ()
        for item in nothing:  # an async generator that yields nothing
            yield item


async def serve() -> None:
    """Listen on a private unix socket, print the handshake line, serve until Shutdown."""
    stop = asyncio.Event()
    directory = tempfile.mkdtemp(prefix="bench-ceiling-")
    path = os.path.join(directory, "plugin.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(128)
    server = grpclib.server.Server([Data(_response()), Controller(stop), Stdio(stop), Broker(stop)])
    await server.start(sock=sock)
    os.write(1, f"1|2|unix|{path}|grpc|\n".encode())
    try:
        await stop.wait()
        await asyncio.sleep(0.01)  # let Shutdown's reply leave
    finally:
        server.close()
        sock.close()
        shutil.rmtree(directory, ignore_errors=True)


def main() -> int:
    """Check the cookie, then serve; exit status 1 when not started by a plugin host."""
    if os.environ.get("grafana_plugin_type") != "datasource":  # noqa: SIM112 - go-plugin's name
        sys.stderr.write("This binary is a plugin. Start it from a plugin host.\n")
        return 1
    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
