"""A plugin misbehaving on purpose, for tests/interop/test_hardening.py (issue 17).

Query types: ``slow`` (awaits ``durationMs``), ``block`` (``time.sleep(seconds)`` inside an
``async def``: blocks the event loop), ``label`` (the instance's ``label`` option, built from
``jsonData``). ASGI mount ``asgi/<what>`` raises ``SystemExit``, ``KeyboardInterrupt`` or a
``CancelledError``; ``asgi/cut`` fails after its first chunk; ``asgi/fine`` answers. Resource
``big`` streams 12.5 MiB. The instance teardown raises ``SystemExit`` when the ``label`` is
``exit``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from plutono_plugin import (
    DataSourceSettings,
    Field,
    Frame,
    HealthResult,
    Plugin,
    Query,
    ResourceRequest,
    ResourceResponse,
)


@dataclass
class Options:
    label: str = ""
    row_limit: int = 10


plugin = Plugin(options=Options, loop_stall_warning=0.2, max_concurrent_queries=300)

RAISES: dict[str, BaseException] = {
    "system_exit": SystemExit(4),
    "keyboard_interrupt": KeyboardInterrupt(),
    "cancelled": asyncio.CancelledError(),
}


async def app(scope: Any, receive: Any, send: Any) -> None:
    what = str(scope["path"]).rsplit("/", 1)[-1]
    if what in RAISES:
        raise RAISES[what]
    if what == "cut":  # the status and a first chunk go out, then the app fails
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("upstream went away")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"fine"})


plugin.mount_asgi("asgi", app)


@plugin.instance
async def instance(settings: DataSourceSettings, options: Options) -> AsyncIterator[str]:
    yield options.label
    if options.label == "exit":
        raise SystemExit(5)


@dataclass
class Slow:
    duration_ms: int = 1000


@dataclass
class Block:
    seconds: float = 1.0


@plugin.query("slow")
async def slow(query: Query, model: Slow) -> Frame:
    await asyncio.sleep(model.duration_ms / 1000)
    return Frame("", [Field("value", [1.0])])


@plugin.query("block")
async def block(query: Query, model: Block) -> Frame:
    time.sleep(model.seconds)  # noqa: ASYNC251 - the mistake under test
    return Frame("", [Field("value", [1.0])])


@plugin.query("label")
async def label(query: Query, instance: str, options: Options) -> Frame:
    return Frame("", [Field("label", [instance]), Field("option", [options.label])])


async def _chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for index in range(count):
        yield bytes([index % 256]) * size


@plugin.resource("big")
async def big(request: ResourceRequest) -> ResourceResponse:
    """200 chunks of 64 KiB (12.5 MiB): more than a reader that never reads lets through."""
    return ResourceResponse(_chunks(200, 64 * 1024))


@plugin.check_health
async def health(options: Options) -> HealthResult:
    return HealthResult.ok(f"label {options.label!r}")


if __name__ == "__main__":
    plugin.run()
