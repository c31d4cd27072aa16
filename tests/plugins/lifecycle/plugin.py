"""A plugin exercising the process contract: slow calls, printing, logging, lifespan.

``TEST_NETWORK`` chooses the listener, ``TEST_MARKER`` names a file the lifespan writes
``started``/``stopped`` into, ``TEST_FAIL_START`` makes the lifespan fail before the handshake.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from plutono_plugin import Field, Frame, Plugin, Query, ResourceRequest

log = logging.getLogger("lifecycle")


@asynccontextmanager
async def lifespan(plugin: Plugin) -> AsyncIterator[None]:
    marker = os.environ.get("TEST_MARKER")
    if os.environ.get("TEST_FAIL_START"):
        raise RuntimeError("upstream configuration is missing")
    if marker:
        with open(marker, "a") as file:
            file.write("started\n")
    log.info("lifespan started")
    try:
        yield
    finally:
        if marker:
            with open(marker, "a") as file:
                file.write("stopped\n")


plugin = Plugin(network=os.environ.get("TEST_NETWORK", "auto"), lifespan=lifespan)


@dataclass
class Slow:
    duration_ms: int = 0


@plugin.query("slow")
async def slow(query: Query, model: Slow) -> Frame:
    await asyncio.sleep(model.duration_ms / 1000)
    return Frame(query.ref_id, [Field("slept_ms", [model.duration_ms], type="int64")])


@plugin.query("print")
async def noisy(query: Query) -> Frame:
    print("x" * 200_000)  # one line far above go-plugin's 64 KiB scanner limit
    for index in range(2_000):
        print(f"line {index}")
    sys.stdout.write("no newline at the end")
    sys.stdout.flush()
    os.write(1, b"raw write to fd 1\n")
    return Frame(query.ref_id, [Field("printed", [True])])


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("cannot print me")


@plugin.query("log")
async def logs(query: Query) -> Frame:
    log.debug("a debug record")
    log.info("an info record")
    log.warning("a warn record")
    log.error("an error record")
    log.info(12345)  # a number as the message: must arrive as text
    log.info({"a": 1}, extra={"count": 3, "ratio": float("nan"), "blob": b"\xff\x00bytes"})
    log.info("extras", extra={"nested": {"k": [1, 2.5, None]}, "error": ValueError("bad")})
    log.info(Unprintable())
    log.info("%s and %s", "too few")  # a formatting mistake
    try:
        raise KeyError("missing")
    except KeyError:
        log.exception("with a traceback")
    log.info("y" * 100_000)
    return Frame(query.ref_id, [Field("logged", [True])])


@plugin.resource("ping")
async def ping(request: ResourceRequest) -> dict[str, bool]:
    return {"ok": True}
