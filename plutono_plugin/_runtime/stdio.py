"""Keep the host's stdout pipe clean after the handshake (contract 1.11).

go-plugin reads the plugin's stdout with a 64 KiB line scanner: a long line stops the reader and
the plugin later blocks on a full pipe; anything before the handshake breaks start-up. After the
handshake, fd 1 is redirected into a private pipe. A thread (not the event loop: a handler that
prints must never wait for the loop it blocks) drains it, logs each line at info under the logger
``plutono_plugin.stdout`` and hands chunks to ``GRPCStdio/StreamStdio`` subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import Final

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from .._proto import plugin

__all__ = ("StdioHub", "StdoutCapture")

_CHUNK: Final = 1024  # go-plugin streams stdio in 1 KiB chunks (contract 1.10)
_log = logging.getLogger("plutono_plugin.stdout")


class StdoutCapture:
    """Redirect fd 1 into a pipe drained by a daemon thread.

    ``start()`` → ``close()`` (idempotent) → ``wait_closed()`` (join the reader).
    """

    def __init__(self, subscriber: Callable[[bytes], None] | None = None) -> None:
        self._subscriber = subscriber
        self._thread: threading.Thread | None = None
        self._saved_fd: int | None = None
        self._closed = False

    def start(self) -> None:
        """Point fd 1 (and ``sys.stdout``) at the capture pipe."""
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        self._saved_fd = os.dup(1)
        os.dup2(write_fd, 1)
        os.close(write_fd)
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(line_buffering=True)
        self._thread = threading.Thread(
            target=self._drain, args=(read_fd,), name="plutono-plugin-stdout", daemon=True
        )
        self._thread.start()

    def _drain(self, read_fd: int) -> None:
        pending = b""
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(_CHUNK):
                if self._subscriber is not None:
                    self._subscriber(chunk)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    _log.info(line.decode("utf-8", errors="replace"))
                if len(pending) > 16 * _CHUNK:
                    _log.info(pending.decode("utf-8", errors="replace"))
                    pending = b""
        if pending:
            _log.info(pending.decode("utf-8", errors="replace"))

    def close(self) -> None:
        """Restore fd 1 to /dev/null so the pipe's writer closes and the reader finishes.

        The host's pipe is not restored: nothing may reach it after the handshake.
        """
        if self._closed or self._saved_fd is None:
            return
        self._closed = True
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        os.close(self._saved_fd)

    def wait_closed(self, timeout: float = 1.0) -> None:
        """Join the reader thread (bounded: shutdown must stay fast)."""
        if self._thread is not None:
            self._thread.join(timeout)


class StdioHub:
    """Fans captured stdout chunks out to StreamStdio subscribers (bounded; drops when full)."""

    SUBSCRIBER_BUFFER: Final = 256
    """Chunks a slow subscriber may fall behind by before new ones are dropped for it."""

    def __init__(self) -> None:
        self._subscribers: set[MemoryObjectSendStream[tuple[plugin.StdioDataChannel, bytes]]] = (
            set()
        )
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        """Remember the running event loop, which the reader thread publishes into."""
        self._loop = asyncio.get_running_loop()

    def publish_threadsafe(self, data: bytes) -> None:
        """Called by the stdout reader thread; never waits for the event loop.

        anyio's thread-to-loop calls all wait for the loop; a handler that prints while it
        blocks the loop would then fill the pipe and deadlock, hence asyncio's hand-off.
        """
        if self._loop is not None and self._subscribers:
            self._loop.call_soon_threadsafe(self._publish, data)

    def _publish(self, data: bytes) -> None:
        for stream in list(self._subscribers):
            with contextlib.suppress(anyio.WouldBlock, anyio.BrokenResourceError):
                stream.send_nowait((plugin.StdioDataChannel.STDOUT, data))

    async def subscribe(self) -> AsyncIterator[tuple[plugin.StdioDataChannel, bytes]]:
        """Chunks as they come, until cancelled."""
        send, receive = anyio.create_memory_object_stream[tuple[plugin.StdioDataChannel, bytes]](
            self.SUBSCRIBER_BUFFER
        )
        self._subscribers.add(send)
        try:
            async with receive:
                async for item in receive:
                    yield item
        finally:
            self._subscribers.discard(send)
            send.close()
