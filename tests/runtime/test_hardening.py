"""Runtime hardening of issue 17 that needs no host: log fields, worker threads, the watchdog."""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import linecache
import logging
import os
import socket
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2.events
import h2.exceptions
import pytest

from plutono_plugin._calls import log_fields
from plutono_plugin._runtime.handshake import remove_stale_socket_directories
from plutono_plugin._runtime.hclog import HclogFormatter
from plutono_plugin._runtime.transport import _wake_writable_streams
from plutono_plugin._runtime.watchdog import BLOCKED_EXIT_CODE, LoopWatchdog, format_stack


def test_integers_are_written_so_plutono_prints_them_as_integers() -> None:
    # go-plugin decodes JSON numbers as float64 and Plutono prints "19.000" (issue 17).
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(HclogFormatter())
    logger = logging.getLogger("plutono_plugin.test.ints")
    logger.addHandler(handler)
    try:
        with log_fields(orgId=1, datasourceId=19):
            logger.warning("ids", extra={"rows": 5, "ok": True, "ratio": 0.5})
    finally:
        logger.removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert (record["orgId"], record["datasourceId"], record["rows"]) == ("1", "19", "5")
    assert record["ok"] is True and record["ratio"] == 0.5


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def socket_directory(parent: Path, pid: int, mode: int = 0o700) -> Path:
    directory = parent / f"plutono-plugin-{pid}-abcd1234"
    directory.mkdir(mode=mode)
    directory.chmod(mode)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(directory / "plugin.sock"))
    sock.close()
    return directory


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A directory whose socket paths fit in sun_path (pytest's tmp_path can be too long)."""
    with tempfile.TemporaryDirectory(prefix="pp") as directory:
        yield Path(directory)


def test_only_socket_directories_of_dead_plugins_of_this_user_are_removed(short_tmp: Path) -> None:
    tmp_path = short_tmp
    dead = dead_pid()
    stale = socket_directory(tmp_path, dead)
    empty = tmp_path / f"plutono-plugin-{dead}-empty0000"
    empty.mkdir(mode=0o700)
    alive = socket_directory(tmp_path, os.getppid())
    mine = socket_directory(tmp_path, os.getpid())
    shared = tmp_path / f"plutono-plugin-{dead}-shared00"
    shared.mkdir(mode=0o700)
    (shared / "plugin.sock").write_text("not a socket")
    extra = socket_directory(tmp_path, dead + 100_000_000)  # no such pid either
    (extra / "notes.txt").write_text("someone else's file")
    loose = socket_directory(tmp_path, dead + 200_000_000, mode=0o755)
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / f"plutono-plugin-{dead}-link0000"
    link.symlink_to(target, target_is_directory=True)
    other = tmp_path / "unrelated-12345"
    other.mkdir()
    # a plugin in another pid namespace: its pid is not ours to see, but its socket answers
    elsewhere = socket_directory(tmp_path, dead + 300_000_000)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    (elsewhere / "plugin.sock").unlink()
    listener.bind(str(elsewhere / "plugin.sock"))
    listener.listen(1)

    try:
        assert remove_stale_socket_directories(str(tmp_path)) == 2
    finally:
        listener.close()
    assert not stale.exists() and not empty.exists()
    for kept in (alive, mine, shared, extra, loose, link, target, other, elsewhere):
        assert kept.exists() or kept.is_symlink(), kept
    assert remove_stale_socket_directories(str(tmp_path)) == 1  # its plugin has gone now
    assert not elsewhere.exists()


def test_the_watchdog_names_a_first_use_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "slow_to_import_for_test.py").write_text("import time\ntime.sleep(0.4)\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    async def main() -> None:
        watchdog = LoopWatchdog(0.1)
        watchdog.start()
        try:
            importlib.import_module("slow_to_import_for_test")
            await asyncio.sleep(0.1)
        finally:
            watchdog.close()

    with caplog.at_level(logging.WARNING, "plutono_plugin.watchdog"):
        asyncio.run(main())
    # Before: "Make the handler a plain 'def'", which would not have helped.
    assert "importing 'slow_to_import_for_test' for the first time" in caplog.text
    assert "plain 'def'" not in caplog.text


def test_a_stall_stack_reads_its_lines_without_filling_linecache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stack of a stall is what traceback shows, but linecache keeps none of its files."""
    source = "# -*- coding: latin-1 -*-\nimport sys\n\n\ndef blocked():\n"
    source += "    return sys._getframe()  # 'caf\xe9'\n"
    (tmp_path / "stalled_on_disk.py").write_text(source, encoding="latin-1")
    with zipfile.ZipFile(tmp_path / "zipped.zip", "w") as bundle:
        # zipimport's get_source reads UTF-8 whatever the cookie says (linecache's too)
        bundle.writestr("stalled_in_zip.py", source.split("\n", 1)[1].encode())
    monkeypatch.syspath_prepend(str(tmp_path / "zipped.zip"))
    monkeypatch.syspath_prepend(str(tmp_path))
    on_disk = importlib.import_module("stalled_on_disk").blocked()
    in_zip = importlib.import_module("stalled_in_zip").blocked()
    linecache.checkcache()
    before = set(linecache.cache)

    stack = format_stack(on_disk, limit=3)
    zipped = format_stack(in_zip, limit=1)

    assert set(linecache.cache) == before  # not even a lazy entry (StackSummary.extract's)
    assert format_stack(None) == ""  # no frame for the loop's thread: not the caller's stack
    assert f'File "{tmp_path / "stalled_on_disk.py"}", line 6, in blocked' in stack
    assert "return sys._getframe()  # 'caf\xe9'" in stack and stack.count("File ") == 3
    assert 'stalled_in_zip.py", line 5,' in zipped  # one line shorter: no cookie
    assert "return sys._getframe()" in zipped  # from its loader
    gone = format_stack(on_disk, limit=1)
    (tmp_path / "stalled_on_disk.py").unlink()
    assert format_stack(on_disk, limit=1) == gone.splitlines(keepends=True)[0]  # just no line


def test_a_stop_the_blocked_loop_cannot_finish_is_ended_by_the_watchdog() -> None:
    exits: list[int] = []

    async def main() -> None:
        watchdog = LoopWatchdog(None, exit=exits.append)
        watchdog.start()
        try:
            watchdog.stop_requested(0.1)
            time.sleep(0.8)  # noqa: ASYNC251 - the blocked loop under test
        finally:
            watchdog.close()

    asyncio.run(main())
    assert exits == [BLOCKED_EXIT_CODE]


def test_a_long_stall_threshold_does_not_slow_noticing_the_host_is_gone() -> None:
    # The watch interval was a quarter of the threshold: with loop_stall_warning=30 the host's
    # death went unnoticed for up to 7.5 s (docs/runtime.md promises 0.15 s).
    async def main() -> float:
        gone = asyncio.Event()
        watchdog = LoopWatchdog(30.0, parent=os.getppid() + 1, on_parent_gone=gone.set)
        watchdog.start()
        started = time.monotonic()
        try:
            await asyncio.wait_for(gone.wait(), 5.0)
        finally:
            watchdog.close()
        return time.monotonic() - started

    assert asyncio.run(main()) < 2.0


def test_a_connection_window_update_wakes_only_streams_that_can_send() -> None:
    # A client leaving bodies unread: their stream windows are spent. grpclib woke every stream
    # on each connection-level WINDOW_UPDATE, each went back to sleep: a busy loop (issue 16).
    windows = {1: 0, 3: 65535, 5: 0, 7: None}

    class Connection:
        def local_flow_control_window(self, stream_id: int) -> int:
            window = windows[stream_id]
            if window is None:
                raise h2.exceptions.StreamClosedError(stream_id)
            return window

    class Stream:
        def __init__(self) -> None:
            self.window_updated = asyncio.Event()

    class Processor:
        def __init__(self) -> None:
            self.streams = {stream_id: Stream() for stream_id in windows}

    processor: Any = Processor()
    _wake_writable_streams(processor, Connection(), h2.events.WindowUpdated(stream_id=0))
    woken = {i for i, stream in processor.streams.items() if stream.window_updated.is_set()}
    assert woken == {3, 7}
    _wake_writable_streams(processor, Connection(), h2.events.WindowUpdated(stream_id=5))
    assert processor.streams[5].window_updated.is_set()
