"""Serve a plugin's entry: what ``plutono-plugin run`` and a built plugin's ``lib/boot.py`` do.

Apart from :mod:`.main`, so the build (whose ``boot`` ends here) and the parser import no cycle.

Importing the plugin's code happens before the handshake, under the host: whatever it writes
then (``print``, a library's warning, a C extension writing to fd 1 or 2) would reach the host
raw, on stdout even before the handshake line, which breaks the start (contract 1.6), and on
stderr as text that Plutono shows only at debug level (contract 1.11). So the import runs with
fd 1 and fd 2 pointed at a pipe whose lines become hclog records at error level, and an import
that fails becomes one such record naming the error and the fix, with the traceback in a field.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import threading
import traceback
from collections.abc import Iterator

__all__ = ("load_plugin", "serve")

_LINE_LIMIT = 60 * 1024  # below the host's 64 KiB line reader (contract 1.11)
_PIECE = 16 * 1024  # bytes of output per record: fits a line even when JSON escapes them


def load_plugin(entry: str, *, search_cwd: bool = True) -> object:
    """Import ``module:attribute`` and return the attribute.

    With ``search_cwd`` the current directory goes on ``sys.path`` (``plutono-plugin run`` in
    a source tree); a shipped plugin passes ``False``: its cwd is Plutono's (contract 1.1).
    """
    module_name, _, attribute = entry.partition(":")
    if not module_name or not attribute:
        raise SystemExit(f"plutono-plugin: entry {entry!r} must be module:attribute")
    if search_cwd and "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise SystemExit(f"plutono-plugin: module {module_name!r} has no {attribute!r}") from None


def hclog_error(message: str, **fields: str) -> str:
    """One hclog JSON line at error level; ``@message`` is always a string (contract 1.11).

    The longest values are shortened until the line fits the host's 64 KiB line reader: a
    longer line would reach Plutono in raw pieces at debug level.
    """
    record = {"@message": message, **fields}
    while True:
        line = json.dumps({"@level": "error", **record})
        if len(line) < _LINE_LIMIT:
            return line + "\n"
        longest = max(record, key=lambda key: len(record[key]))
        value = record[longest]
        # a traceback's end names the error; a message's start says what happened
        half = len(value) // 2
        record[longest] = "… " + value[-half:] if longest == "traceback" else value[:half] + " …"


@contextlib.contextmanager
def output_as_log(entry: str) -> Iterator[None]:
    """Point fd 1 and fd 2 at a pipe; each line written meanwhile becomes an hclog error line.

    A thread drains the pipe into the original fd 2 as lines arrive, so nothing is lost when
    the import crashes the interpreter half-way.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(1), os.dup(2)
    host_stderr = os.dup(2)  # the reader's own copy: it closes it when done
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)

    def drain() -> None:
        with os.fdopen(read_fd, "rb") as pipe, os.fdopen(host_stderr, "w") as out:
            while raw := pipe.readline(_PIECE):  # a longer line arrives in pieces
                line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
                if line.strip():
                    out.write(hclog_error(f"{entry} wrote while importing: {line}"))
                    out.flush()

    reader = threading.Thread(target=drain, name="plutono-plugin-import-output", daemon=True)
    reader.start()
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        for fd, original in enumerate(saved, start=1):
            os.dup2(original, fd)
            os.close(original)
        reader.join(2.0)  # a child process started at import may keep the pipe open


def _import_failure(entry: str, error: BaseException) -> str:
    if isinstance(error, SystemExit) and isinstance(error.code, str):
        message = error.code.removeprefix("plutono-plugin: ")
        return hclog_error(f"{message}; fix: check the entry ({entry}) the plugin was built with")
    described = f"{type(error).__name__}: {error}"
    if isinstance(error, ModuleNotFoundError) and error.name:
        top = error.name.split(".")[0]
        fix = (
            f"add the distribution that provides {top!r} to requirements.txt and rebuild "
            "(a shipped plugin sees only its own dependency tree)"
        )
    else:
        where = traceback.extract_tb(error.__traceback__)
        place = f" at {where[-1].filename}:{where[-1].lineno}" if where else ""
        fix = f"fix the error{place}; the traceback is in the traceback field"
    trace = "".join(traceback.format_exception(error))
    return hclog_error(
        f"the plugin {entry} does not import: {described}; fix: {fix}",
        error=described,
        traceback=trace,
    )


def serve(entry: str, *, search_cwd: bool = False) -> int:
    """Serve the :class:`~plutono_plugin.Plugin` at ``entry`` as Plutono's child process.

    What a built plugin's ``lib/boot.py`` (and ``plutono-plugin run``) ends with: the cookie
    check, the import of the plugin, then the server until the host stops it. Returns 1, after
    one hclog error line, when the plugin does not import or is not a ``Plugin``.
    """
    from .._runtime.runner import check_host

    # The cookie check comes before importing the plugin's code and its libraries (contract 1.3).
    status = check_host(os.environ)
    if status is not None:
        return status
    try:
        with output_as_log(entry):
            from ..plugin import Plugin

            plugin = load_plugin(entry, search_cwd=search_cwd)
            if not isinstance(plugin, Plugin):
                raise SystemExit(
                    f"plutono-plugin: {entry} is a {type(plugin).__name__}, not a Plugin"
                )
    except (Exception, SystemExit) as error:
        sys.stderr.write(_import_failure(entry, error))
        sys.stderr.flush()
        return 1
    from .._runtime.runner import exit_process, run_plugin

    exit_process(run_plugin(plugin))
