"""Allocation tracing for leak hunts, off unless ``PLUTONO_PLUGIN_TRACEMALLOC`` is set.

``PLUTONO_PLUGIN_TRACEMALLOC=/tmp/trace`` starts :mod:`tracemalloc` before the server and makes
each ``SIGUSR1`` write a snapshot to ``/tmp/trace.1``, ``/tmp/trace.2``, ... (``Snapshot.dump``
format; compare two with ``Snapshot.load(b).compare_to(Snapshot.load(a), "traceback")``).
``make bench`` uses it to name the allocation sites that grow over calls the host gives up on
(docs/benchmarks.md, section 7b). Tracing slows every allocation: never set it in production.
"""

from __future__ import annotations

import itertools
import signal
import tracemalloc
from collections.abc import Mapping
from types import FrameType

__all__ = ("ENVIRONMENT_KEY", "start_memtrace")

ENVIRONMENT_KEY = "PLUTONO_PLUGIN_TRACEMALLOC"
FRAMES = 12
"""Frames kept per allocation: enough to reach the plugin's code from asyncio and grpclib."""


def start_memtrace(environ: Mapping[str, str]) -> bool:
    """Start tracing and install the ``SIGUSR1`` handler when the variable is set."""
    prefix = environ.get(ENVIRONMENT_KEY, "")
    if not prefix:
        return False
    tracemalloc.start(FRAMES)
    numbers = itertools.count(1)

    def dump(_signum: int, _frame: FrameType | None) -> None:
        # Runs between two bytecodes of the main thread, so the heap is not mid-update.
        tracemalloc.take_snapshot().dump(f"{prefix}.{next(numbers)}")

    signal.signal(signal.SIGUSR1, dump)
    return True
