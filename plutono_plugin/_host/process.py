"""The plugin child process, run as go-plugin v1.4.0's client runs it for Plutono.

Launch (contract 1.1-1.2), wait for the handshake with a start timeout (1.6, 1.8), drain stdout
and parse stderr (1.11), open the broker and stdio streams right after connecting (1.9), and
stop like ``Kill()`` (1.12). :mod:`plutono_plugin.host` builds the RPC calls on top.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import shutil
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._runtime.handshake import COOKIE_KEY, COOKIE_VALUE
from ..errors import ConfigurationError, HandshakeError
from .wire import Handshake, LogRecord, parse_handshake, parse_log_line, tcp_host_port

if TYPE_CHECKING:
    from grpclib.client import Channel

__all__ = ("PLUTONO_VERSION", "PluginExitedError", "PluginProcess", "plugin_environment")

PLUTONO_VERSION: Final = "7.5.49"
LINE_LIMIT: Final = 64 * 1024
"""go-plugin's scanner token and stderr buffer size (contract 1.6, 1.11)."""
GRACEFUL_EXIT_SECONDS: Final = 2.0
"""How long ``Kill()`` waits for the process after ``Shutdown`` before SIGKILL (contract 1.12)."""
SHUTDOWN_ANSWER_SECONDS: Final = 10.0
"""go-plugin waits for the ``Shutdown`` answer without a deadline; the dev host reports a hang."""
_MAX_PROBLEMS: Final = 50


def plugin_environment(
    plugin_id: str,
    *,
    plugin_settings: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    protocol_versions: str | None = None,
    inherit: bool = True,
) -> dict[str, str]:
    """The environment Plutono gives a plugin, later entries winning (contract 1.2).

    ``PL_PLUGIN_<KEY>`` for the ini section ``[plugin.<id>]`` (``plugin_settings``, without
    ``path`` and ``id``), ``PL_VERSION``/``PL_EDITION``, this process's environment plus
    ``env``, then go-plugin's cookie, port range and protocol versions (random order, as Go
    iterates a map). Without ``inherit`` this process's environment is left out (a service
    manager starts Plutono with little more than ``PATH``).

    Example::

        environment = plugin_environment("my-ds", plugin_settings={"api_url": "http://x"})
        assert environment["PL_PLUGIN_API_URL"] == "http://x"
        assert environment["grafana_plugin_type"] == "datasource"
    """
    result = {
        f"PL_PLUGIN_{key.upper()}": value
        for key, value in (plugin_settings or {}).items()
        if key != "path" and key.lower() != "id"
    }
    result["PL_VERSION"] = PLUTONO_VERSION
    result["PL_EDITION"] = "Open Source"
    if inherit:
        result.update(os.environ)
    result.update(env or {})
    result[COOKIE_KEY] = COOKIE_VALUE
    result.update(
        PLUGIN_MIN_PORT="10000",
        PLUGIN_MAX_PORT="25000",
        PLUGIN_PROTOCOL_VERSIONS=protocol_versions or random.choice(("1,2", "2,1")),
    )
    return result


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        with suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


class PluginExitedError(HandshakeError):
    """The plugin exited before the host could connect; carries the exit code and stderr."""

    def __init__(self, returncode: int | None, stderr: str) -> None:
        text = f"plugin exited before we could connect ({_describe_exit(returncode)})"
        if stderr:
            text += f"; its stderr ended with:\n{stderr}"
        super().__init__(text)
        self.returncode = returncode
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"PluginExitedError(returncode={self.returncode!r}, stderr={self.stderr!r})"


def _check_executable(path: Path) -> None:
    if path.is_file():
        return
    stem = path.name.split("_")[0]
    present = sorted(p.name for p in path.parent.glob(f"{stem}_*")) if path.parent.is_dir() else []
    found = f"; found: {', '.join(present)}" if present else ""
    raise ConfigurationError(f"plugin executable {path} does not exist{found} (contract 2.1)")


class PluginProcess:
    """One plugin process with its readers and gRPC channel (use :meth:`spawn`)."""

    def __init__(
        self,
        executable: Path,
        environment: dict[str, str],
        cwd: str,
        owned_cwd: bool,
        on_log: Callable[[LogRecord], None] | None,
    ) -> None:
        self.executable = executable
        self.environment = environment
        self.cwd = cwd
        self.logs: list[LogRecord] = []
        self.problems: list[str] = []
        self.handshake = Handshake(0, 0, "", "", "")
        self.handshake_seconds = 0.0
        self._channel: Channel | None = None
        self._owned_cwd = owned_cwd
        self._on_log = on_log
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._log_event = asyncio.Event()
        self._proc: asyncio.subprocess.Process | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._exit_task: asyncio.Task[int] | None = None
        self._stop_lock = asyncio.Lock()
        self._stop_result: tuple[float, int | None, bool] | None = None
        self._started = 0.0

    @classmethod
    async def spawn(
        cls,
        executable: Path,
        environment: dict[str, str],
        *,
        cwd: str | os.PathLike[str] | None,
        start_timeout: float,
        on_log: Callable[[LogRecord], None] | None = None,
    ) -> PluginProcess:
        """Start the executable and connect; raise a :class:`HandshakeError` on failure."""
        _check_executable(executable)
        owned = cwd is None
        # Plutono does not chdir into the plugin directory (contract 1.1): a fresh directory
        # makes a plugin that opens files relative to its cwd fail here as it would there.
        directory = tempfile.mkdtemp(prefix="plutono-host-") if cwd is None else os.fspath(cwd)
        process = cls(executable, environment, directory, owned, on_log)
        try:
            await process._exec()
            await process._await_handshake(start_timeout)
            process._connect()
        except BaseException:
            await process._abort()
            raise
        return process

    @property
    def channel(self) -> Channel:
        """The gRPC channel to the plugin."""
        if self._channel is None:
            raise RuntimeError("the plugin is not connected")
        return self._channel

    @property
    def returncode(self) -> int | None:
        """The exit code, or ``None`` while running."""
        return None if self._proc is None else self._proc.returncode

    # -- start ---------------------------------------------------------------------------------

    async def _exec(self) -> None:
        started = time.monotonic()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                os.fspath(self.executable),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.environment,
                cwd=self.cwd,
                limit=LINE_LIMIT,
            )
        except PermissionError:
            raise ConfigurationError(
                f"{self.executable} is not executable: Plutono execs it directly (chmod +x)"
            ) from None
        except OSError as error:
            if error.errno == errno.ENOEXEC:
                raise ConfigurationError(
                    f"{self.executable} cannot be executed: a script needs a '#!' first line"
                ) from None
            raise ConfigurationError(f"cannot start {self.executable}: {error}") from None
        self._started = started
        self._exit_task = asyncio.create_task(self._watch_exit(self._proc))
        assert self._proc.stderr is not None
        self._tasks["stderr"] = asyncio.create_task(self._read_stderr(self._proc.stderr))

    @staticmethod
    async def _watch_exit(proc: asyncio.subprocess.Process) -> int:
        # Process.wait() also waits for the pipes to close, which a grandchild can hold open
        # for ever; the return code is set as soon as the child itself exits.
        while proc.returncode is None:  # noqa: ASYNC110 -- no public exit event exists
            await asyncio.sleep(0.02)
        return proc.returncode

    def _stderr_text(self) -> str:
        return "\n".join(self._stderr_tail)

    async def _final_stderr(self) -> str:
        """Kill the process (start failed) and return its stderr once read to the end."""
        if self._proc is not None and self._proc.returncode is None:
            with suppress(ProcessLookupError):
                self._proc.kill()
        await self._settle(1.0)
        return self._stderr_text()

    async def _await_handshake(self, start_timeout: float) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        assert self._exit_task is not None
        read = asyncio.create_task(self._proc.stdout.readline())
        done, _ = await asyncio.wait(
            {read, self._exit_task}, timeout=start_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if read in done:
            try:
                data = read.result()
            except ValueError:
                raise HandshakeError(
                    "the first stdout line is longer than 64 KiB: go-plugin's scanner gives up "
                    "and the handshake never arrives (contract 1.6)"
                ) from None
            if data:
                self.handshake_seconds = time.monotonic() - self._started
                try:
                    self.handshake = parse_handshake(data.decode("utf-8", errors="replace"))
                except HandshakeError as error:
                    tail = await self._final_stderr()
                    text = f"{error}\nstderr:\n{tail}" if tail else str(error)
                    raise HandshakeError(text) from None
                self._tasks["stdout"] = asyncio.create_task(self._drain_stdout())
                return
            await self._settle(GRACEFUL_EXIT_SECONDS)
            if self.returncode is None:
                tail = await self._final_stderr()
                raise HandshakeError(f"plugin closed stdout without a handshake line\n{tail}")
        else:
            read.cancel()
            await asyncio.gather(read, return_exceptions=True)
        if self._exit_task.done():
            await self._settle(GRACEFUL_EXIT_SECONDS)
            raise PluginExitedError(self.returncode, self._stderr_text())
        tail = await self._final_stderr()
        raise HandshakeError(
            f"timeout while waiting for plugin to start: no handshake line on stdout within "
            f"{start_timeout:g} s" + (f"; its stderr:\n{tail}" if tail else "")
        )

    def _connect(self) -> None:
        from grpclib.client import Channel

        if self.handshake.network == "unix":
            self._channel = Channel(path=self.handshake.address)
        else:
            host, port = tcp_host_port(self.handshake.address)
            self._channel = Channel(host, port)
        # Like go-plugin's client, open the broker and stdio streams at once (contract 1.9).
        self._tasks["broker"] = asyncio.create_task(self._run_broker())
        self._tasks["stdio"] = asyncio.create_task(self._run_stdio())

    # -- readers -------------------------------------------------------------------------------

    def problem(self, text: str) -> None:
        """Note something Plutono would handle badly (each distinct text once)."""
        if text not in self.problems and len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(text)

    def _record(self, record: LogRecord) -> None:
        self.logs.append(record)
        self._log_event.set()
        self._log_event = asyncio.Event()
        if self._on_log is not None:
            try:
                self._on_log(record)
            except Exception as error:  # a broken callback must not stop the stderr reader
                self.problem(f"on_log callback failed: {error!r}")

    def _stderr_line(self, data: bytes, *, piece: bool) -> None:
        text = data.rstrip(b"\r").decode("utf-8", errors="replace")
        self._stderr_tail.append(text)
        if piece:
            # go-plugin logs pieces of an overlong line verbatim at debug (contract 1.11).
            self.problem("a stderr line is longer than 64 KiB: Plutono logs it in raw pieces")
            self._record(LogRecord("debug", text, raw=text))
        elif text.strip():
            record, problem = parse_log_line(text)
            self._record(record)
            if problem:
                self.problem(problem)

    async def _read_stderr(self, reader: asyncio.StreamReader) -> None:
        pending, continuation = b"", False
        while chunk := await reader.read(LINE_LIMIT):
            pending += chunk
            while True:
                index = pending.find(b"\n")
                if index < 0 and len(pending) >= LINE_LIMIT:
                    self._stderr_line(pending[:LINE_LIMIT], piece=True)
                    pending, continuation = pending[LINE_LIMIT:], True
                    continue
                if index < 0:
                    break
                self._stderr_line(pending[:index], piece=continuation)
                pending, continuation = pending[index + 1 :], False
        if pending:
            self._stderr_line(pending, piece=continuation)
        self._log_event.set()

    async def _drain_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        line_length = 0
        while chunk := await self._proc.stdout.read(LINE_LIMIT):
            self.problem(
                "the plugin wrote to stdout after the handshake: Plutono discards it "
                f"(first bytes: {chunk[:60]!r}); log to stderr instead (contract 1.11)"
            )
            first, *rest = chunk.split(b"\n")
            line_length += len(first)
            for segment in rest:
                self._check_stdout_line(line_length)
                line_length = len(segment)
            self._check_stdout_line(line_length)

    def _check_stdout_line(self, length: int) -> None:
        if length > LINE_LIMIT:
            self.problem(
                "a stdout line after the handshake is longer than 64 KiB: Plutono stops "
                "draining stdout and the plugin blocks once the pipe is full (contract 1.11)"
            )

    async def _run_broker(self) -> None:
        from grpclib.const import Cardinality

        from .._proto.plugin import ConnInfo

        # pluginv2 never brokers sub-connections: keep the stream open, ignore errors (1.9).
        with suppress(Exception):
            async with self.channel.request(
                "/plugin.GRPCBroker/StartStream", Cardinality.STREAM_STREAM, ConnInfo, ConnInfo
            ) as stream:
                await stream.send_request()
                async for _ in stream:
                    pass

    async def _run_stdio(self) -> None:
        from .._proto.plugin import GrpcStdioStub

        # Plutono discards this stream; the dev host keeps it as debug records (contract 1.10).
        with suppress(Exception):
            async for data in GrpcStdioStub(self.channel).stream_stdio():
                name = data.channel.name.lower() if data.channel.name else "stdio"
                for line in data.data.decode("utf-8", errors="replace").splitlines():
                    if line.strip():
                        self._record(LogRecord("debug", line, fields={"stdio": name}, raw=line))

    async def wait_for_log(
        self,
        match: str | Callable[[LogRecord], bool],
        *,
        timeout: float,  # noqa: ASYNC109 -- the error lists what was seen, asyncio.timeout cannot
    ) -> LogRecord:
        """The first record matching ``match`` (substring of the message, or a predicate)."""

        def matches(record: LogRecord) -> bool:
            return match(record) if callable(match) else match in record.message

        index = 0
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while True:
                    event = self._log_event
                    for record in self.logs[index:]:
                        if matches(record):
                            return record
                    index = len(self.logs)
                    if self._tasks["stderr"].done():
                        break
                    await event.wait()
        seen = "\n".join(f"  {record}" for record in self.logs[-10:]) or "  (none)"
        raise TimeoutError(
            f"no plugin log record matched {match!r} in {timeout:g} s; last:\n{seen}"
        )

    # -- stop ----------------------------------------------------------------------------------

    async def _settle(self, seconds: float) -> bool:
        """Wait until the process exited and stderr reached EOF (go-plugin's "exited")."""
        waits = [task for task in (self._exit_task, self._tasks.get("stderr")) if task]
        if not waits:
            return True
        done, _ = await asyncio.wait(waits, timeout=seconds)
        return len(done) == len(waits)

    async def _finish_tasks(self) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with suppress(ProcessLookupError):
                proc.kill()
        if self._exit_task is not None:
            await asyncio.wait([self._exit_task], timeout=5.0)
        readers = [self._tasks[name] for name in ("stderr", "stdout") if name in self._tasks]
        if readers:
            # A grandchild holding the pipes open must not hang the host.
            await asyncio.wait(readers, timeout=1.0)
        for task in [*self._tasks.values(), *([self._exit_task] if self._exit_task else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if self._exit_task is not None:
            await asyncio.gather(self._exit_task, return_exceptions=True)
        if self._channel is not None:
            self._channel.close()
        if proc is not None:
            transport = getattr(proc, "_transport", None)
            if transport is not None:
                transport.close()  # releases pipes a surviving grandchild still holds
            await asyncio.wait([asyncio.create_task(proc.wait())], timeout=1.0)
        if self._owned_cwd:
            shutil.rmtree(self.cwd, ignore_errors=True)

    async def _abort(self) -> None:
        await self._finish_tasks()

    async def stop(self) -> tuple[float, int | None, bool]:
        """``Kill()``: Shutdown RPC, close the channel, wait 2 s for exit, else SIGKILL."""
        async with self._stop_lock:
            if self._stop_result is None:
                self._stop_result = await self._stop()
            return self._stop_result

    async def _stop(self) -> tuple[float, int | None, bool]:
        from .._proto.plugin import Empty, GrpcControllerStub

        started = time.monotonic()
        assert self._exit_task is not None
        self._tasks["broker"].cancel()
        shutdown = asyncio.create_task(GrpcControllerStub(self.channel).shutdown(Empty()))
        done, _ = await asyncio.wait(
            {shutdown, self._exit_task},
            timeout=SHUTDOWN_ANSWER_SECONDS,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if not done:
            self.problem(
                f"the Shutdown RPC got no answer in {SHUTDOWN_ANSWER_SECONDS:g} s while the "
                "plugin kept running: Plutono would wait for it forever (contract 1.12)"
            )
        shutdown.cancel()
        self._tasks["stdio"].cancel()
        await asyncio.gather(
            shutdown, self._tasks["broker"], self._tasks["stdio"], return_exceptions=True
        )
        self.channel.close()
        graceful = await self._settle(GRACEFUL_EXIT_SECONDS)
        await self._finish_tasks()
        return time.monotonic() - started, self.returncode, graceful
