"""A plugin whose answer a test changes by editing this file (copied to a temporary directory).

Every query answers one frame with ``VERSION``, after waiting ``durationMs``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from plutono_plugin import Field, Frame, Plugin, Query

VERSION = 1

plugin = Plugin()


@dataclass
class Wait:
    duration_ms: int = 0


@plugin.query("")
async def version(query: Query, model: Wait) -> Frame:
    await asyncio.sleep(model.duration_ms / 1000)
    return Frame("version", [Field("version", [VERSION], type="int64")])
