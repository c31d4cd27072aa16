"""A plugin misbehaving on purpose, for tests/interop/test_robustness.py (issue #11).

Query types: ``slow`` (awaits ``durationMs``), ``block_loop`` (``time.sleep`` inside an
``async def``: blocks the event loop), ``sync_stuck`` (a plain ``def`` sleeping 30 s in its
worker thread), ``stderr`` (raw writes to fd 2 that would crash the host's log parser),
``ok``. Resource ``stream``: 50 chunks, 10 ms apart.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from plutono_plugin import Field, Frame, Plugin, Query, ResourceRequest, ResourceResponse

plugin = Plugin(loop_stall_warning=0.2)


def frame() -> Frame:
    return Frame("", [Field("value", [1.0])])


@dataclass
class Slow:
    duration_ms: int = 1000


@plugin.query("ok")
async def ok(query: Query) -> Frame:
    return frame()


@plugin.query("slow")
async def slow(query: Query, model: Slow) -> Frame:
    await asyncio.sleep(model.duration_ms / 1000)
    return frame()


@plugin.query("block_loop")
async def block_loop(query: Query) -> Frame:
    time.sleep(0.8)  # noqa: ASYNC251 - the mistake the watchdog names
    return frame()


@plugin.query("sync_stuck")
def sync_stuck(query: Query) -> Frame:
    time.sleep(30)
    return frame()


@plugin.query("stderr")
async def stderr(query: Query) -> Frame:
    sys.stderr.write('{"@message": 5, "@level": 7, "@timestamp": 1}\n')
    sys.stderr.flush()
    os.write(2, b"[ERROR] written by a C library\n")
    os.write(2, b"no newline at the end")
    os.write(2, b"\n")
    return frame()


async def _chunks() -> AsyncIterator[bytes]:
    for index in range(50):
        await asyncio.sleep(0.01)
        yield f"chunk {index}\n".encode()


@plugin.resource("stream")
async def stream(request: ResourceRequest) -> ResourceResponse:
    return ResourceResponse(_chunks())


if __name__ == "__main__":
    plugin.run()
