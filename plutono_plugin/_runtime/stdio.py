"""The framework owns fd 1 and fd 2 after the handshake (contract 1.11).

**stdout.** go-plugin reads the plugin's stdout with a 64 KiB line scanner: a long line stops the
reader and the plugin later blocks on a full pipe; anything before the handshake breaks
start-up. After the handshake, fd 1 is redirected into a private pipe; each line is logged at
info under the logger ``plutono_plugin.stdout``.

**stderr.** The host parses every stderr line as an hclog record, with unchecked type
assertions: a raw line such as ``{"@message": 5}`` (a C library, ``os.write(2, ...)``,
``sys.stderr.write``) crashes Plutono. The hclog handler writes to a duplicate of the original
fd 2 (made by ``configure_logging`` before this capture starts), and fd 2 itself becomes a
private pipe: each line written there is wrapped into a valid record under the logger
``plutono_plugin.stderr`` (level from a leading ``[ERROR]``/``[WARN]``/... as go-plugin infers
it, else warn).

A thread per fd drains the pipe (not the event loop: a handler that prints must never wait for
the loop it blocks) and hands chunks to ``GRPCStdio/StreamStdio`` subscribers, as go-plugin
forwards its replaced ``os.Stdout``/``os.Stderr`` (contract 1.10).
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
from .hclog import TRACE

__all__ = ("FdCapture", "StdioHub", "StdoutCapture")

_CHUNK: Final = 1024  # go-plugin streams stdio in 1 KiB chunks (contract 1.10)
_PREFIXES: Final = (  # go-plugin's level inference for non-JSON lines (contract 1.11)
    (b"[TRACE]", TRACE),
    (b"[DEBUG]", logging.DEBUG),
    (b"[INFO]", logging.INFO),
    (b"[WARN]", logging.WARNING),
    (b"[ERROR]", logging.ERROR),
)


class FdCapture:
    """Redirect ``fd`` (1 or 2) into a pipe drained by a daemon thread that logs each line.

    ``start()`` → ``close()`` (idempotent) → ``wait_closed()`` (join the reader).
    """

    def __init__(
        self,
        fd: int = 1,
        subscriber: Callable[[plugin.StdioDataChannel, bytes], None] | None = None,
    ) -> None:
        if fd not in (1, 2):
            raise ValueError("only fd 1 (stdout) and fd 2 (stderr) are captured")
        self.fd = fd
        self._channel = (
            plugin.StdioDataChannel.STDOUT if fd == 1 else plugin.StdioDataChannel.STDERR
        )
        self._log = logging.getLogger(
            "plutono_plugin.stdout" if fd == 1 else "plutono_plugin.stderr"
        )
        self._default_level = logging.INFO if fd == 1 else logging.WARNING
        self._subscriber = subscriber
        self._thread: threading.Thread | None = None
        self._saved_fd: int | None = None
        self._closed = False

    def _stream(self) -> object:
        return sys.stdout if self.fd == 1 else sys.stderr

    def start(self) -> None:
        """Point the fd (and ``sys.stdout``/``sys.stderr``) at the capture pipe."""
        read_fd, write_fd = os.pipe()
        stream = self._stream()
        with contextlib.suppress(Exception):
            stream.flush()  # type: ignore[attr-defined]
        self._saved_fd = os.dup(self.fd)
        if self.fd == 2:
            self._keep_handlers_on_original_stderr()
        os.dup2(write_fd, self.fd)
        os.close(write_fd)
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
        self._thread = threading.Thread(
            target=self._drain,
            args=(read_fd,),
            name=f"plutono-plugin-{'stdout' if self.fd == 1 else 'stderr'}",
            daemon=True,
        )
        self._thread.start()

    def _keep_handlers_on_original_stderr(self) -> None:
        """Log handlers writing to fd 2 itself get a duplicate of it, which stays the host's.

        ``configure_logging`` already writes to a duplicate; anything else would otherwise
        write into the capture pipe and have its own lines captured again, without end.
        """
        for handler in logging.getLogger().handlers:
            stream = getattr(handler, "stream", None)
            try:
                on_fd_2 = stream is not None and stream.fileno() == 2
            except (AttributeError, OSError, ValueError):
                on_fd_2 = False
            if on_fd_2 and isinstance(handler, logging.StreamHandler):
                handler.setStream(
                    os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
                )

    def _emit(self, line: bytes) -> None:
        level = next(
            (number for prefix, number in _PREFIXES if line.lstrip().startswith(prefix)),
            self._default_level,
        )
        self._log.log(level, line.decode("utf-8", errors="replace"))

    def _drain(self, read_fd: int) -> None:
        pending = b""
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(_CHUNK):
                if self._subscriber is not None:
                    self._subscriber(self._channel, chunk)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._emit(line)
                if len(pending) > 16 * _CHUNK:
                    self._emit(pending)
                    pending = b""
        if pending:
            self._emit(pending)

    def close(self) -> None:
        """Point the fd at /dev/null so the pipe's writer closes and the reader finishes.

        The host's pipe is not restored: nothing unformatted may reach it after the handshake.
        """
        if self._closed or self._saved_fd is None:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._stream().flush()  # type: ignore[attr-defined]
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.fd)
        os.close(devnull)
        os.close(self._saved_fd)

    def wait_closed(self, timeout: float = 1.0) -> None:
        """Join the reader thread (bounded: shutdown must stay fast)."""
        if self._thread is not None:
            self._thread.join(timeout)


class StdoutCapture(FdCapture):
    """The fd 1 capture."""

    def __init__(
        self, subscriber: Callable[[plugin.StdioDataChannel, bytes], None] | None = None
    ) -> None:
        super().__init__(1, subscriber)


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

    def publish_threadsafe(self, channel: plugin.StdioDataChannel, data: bytes) -> None:
        """Called by the stdout reader thread; never waits for the event loop.

        anyio's thread-to-loop calls all wait for the loop; a handler that prints while it
        blocks the loop would then fill the pipe and deadlock, hence asyncio's hand-off.
        """
        if self._loop is not None and self._subscribers:
            self._loop.call_soon_threadsafe(self._publish, channel, data)

    def _publish(self, channel: plugin.StdioDataChannel, data: bytes) -> None:
        for stream in list(self._subscribers):
            with contextlib.suppress(anyio.WouldBlock, anyio.BrokenResourceError):
                stream.send_nowait((channel, data))

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
