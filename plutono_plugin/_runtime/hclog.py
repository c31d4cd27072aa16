"""hclog-compatible JSON logging to the host (contract 1.11, 5.8).

go-plugin v1.4.0 parses every stderr line of the plugin as JSON and passes the record to Plutono's
log. Its parser is unforgiving, so this formatter guarantees, whatever a caller passes:

* ``@message``, ``@level`` and ``@timestamp`` are JSON strings (a number there makes the host's
  unchecked type assertion panic in an unrecovered goroutine: Plutono crashes);
* ``@timestamp`` has exactly 6 fractional digits and ``Z`` (other layouts: the line is logged raw);
* ``@level`` is one of ``trace|debug|info|warn|error`` (anything else: logged raw at debug);
* every other value is JSON-safe (str, float, bool, null, list, object; NaN/Inf as strings);
  integers are written as decimal strings, which Plutono prints as integers;
* the line stays below 64 KiB (the host reads stderr in 64 KiB pieces), truncated with a marker;
* no credential reaches the log: a :class:`~plutono_plugin._headers.SecretValue` anywhere (the
  message, its ``%`` arguments, ``extra``), and the text under a credential key
  (``Authorization``, ``Cookie``, ``password``, ``api_key``, any name
  :func:`~plutono_plugin._headers.is_secret_header` flags) at any depth of an ``extra``
  value, is written as ``"<redacted>"``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import traceback
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, Final

from .._calls import current_log_fields
from .._headers import SecretValue, is_secret_header

__all__ = ("TRACE", "HclogFormatter", "configure_logging", "level_name")

TRACE: Final = 5
"""Python level number used for hclog's ``trace``."""

MAX_LINE_BYTES: Final = 64 * 1024 - 1
"""Longest line written, newline included (contract 1.11: 64 KiB reader)."""

_RESERVED = frozenset(("@message", "@level", "@timestamp", "@module"))
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)
_TRUNCATED = "…[truncated]"
_CHATTY_LIBRARIES = ("asyncio", "grpclib", "h2", "hpack", "httpcore", "httpx")

logging.addLevelName(TRACE, "TRACE")


def level_name(levelno: int) -> str:
    """Map a Python log level number to hclog's level name."""
    if levelno < logging.DEBUG:
        return "trace"
    if levelno < logging.INFO:
        return "debug"
    if levelno < logging.WARNING:
        return "info"
    if levelno < logging.ERROR:
        return "warn"
    return "error"


_PYTHON_LEVELS: Final[Mapping[str, int]] = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


def _text(value: object) -> str:
    """``str(value)`` that never raises (a broken ``__str__`` must not lose the log line).

    A :class:`SecretValue` is ``"<redacted>"``: this is also the fallback when a message does
    not format, which writes the message and its arguments as they are.
    """
    if isinstance(value, SecretValue):
        return _REDACTED
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    try:
        return str(value)
    except Exception as error:
        return f"<unprintable {type(value).__name__}: {type(error).__name__}>"


_REDACTED = "<redacted>"


def _is_credential(key: str, value: object) -> bool:
    """Text (or a list of texts) under a credential key; flags and counts stay readable."""
    if not is_secret_header(key):
        return False
    if isinstance(value, list | tuple):
        return any(isinstance(item, str | bytes) for item in value)
    return isinstance(value, str | bytes | bytearray)


def _hidden(value: object) -> object:
    return _REDACTED if isinstance(value, SecretValue) else value


class _RedactedArgs(Mapping[object, object]):
    """``%(name)s`` arguments with every :class:`SecretValue` hidden; ``%s`` shows the original.

    A wrapper, not a copy: ``logger.info("%s", headers)`` passes the mapping itself as the
    arguments, and its own ``str()`` (a ``Headers``' type and repeated values, a subclass's
    text) and lookups (a ``defaultdict``'s default) must stay what they are.
    """

    __slots__ = ("_args",)

    def __init__(self, args: Mapping[object, object]) -> None:
        self._args = args

    def __getitem__(self, key: object) -> object:
        return _hidden(self._args[key])

    def __iter__(self) -> Iterator[object]:
        return iter(self._args)

    def __len__(self) -> int:
        return len(self._args)

    def __str__(self) -> str:
        return str(self._args)

    def __repr__(self) -> str:
        return repr(self._args)


def _message(record: logging.LogRecord) -> str:
    """``record.getMessage()``, with a :class:`SecretValue` message or argument hidden.

    ``str()`` of a ``SecretValue`` is the credential itself (it is sent upstream as it is), so
    ``logger.info("token %s", headers["Authorization"])`` would write it; containers show
    their values' ``repr``, which is redacted already.
    """
    if isinstance(record.msg, SecretValue):
        return _REDACTED
    args: object = record.args
    if isinstance(args, Mapping):
        args = _RedactedArgs(args)
    elif isinstance(args, tuple):
        args = tuple(_hidden(value) for value in args)
    else:  # a record built by hand (makeLogRecord) can hold a lone SecretValue
        args = _hidden(args)
    message = str(record.msg)
    return message % args if args else message


def _json_safe(value: object, depth: int = 0) -> object:
    """Make ``value`` acceptable to ``json.dumps(allow_nan=False)``, keeping it readable."""
    if isinstance(value, SecretValue):
        return _REDACTED
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        # go-plugin decodes JSON numbers as float64 and Plutono prints those as "19.000"; a
        # decimal string prints as "19" (issue 17: datasourceId, orgId).
        return _text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else _text(value)
    if depth > 8:
        return _text(value)
    if isinstance(value, Mapping):
        try:
            items = list(value.items())
        except Exception:
            return _text(value)
        safe: dict[str, object] = {}
        for key, item in items:
            name = _text(key)
            safe[name] = _REDACTED if _is_credential(name, item) else _json_safe(item, depth + 1)
        return safe
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(item, depth + 1) for item in value]
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {_text(value)}"
    return _text(value)


class HclogFormatter(logging.Formatter):
    """Format records as one hclog JSON object per line (contract 1.11).

    Example::

        handler = logging.StreamHandler()
        handler.setFormatter(HclogFormatter())
        logging.getLogger("my_plugin").addHandler(handler)
        logging.getLogger("my_plugin").warning("slow upstream", extra={"elapsed_ms": 1200})
        # {"@level": "warn", "@message": "slow upstream", "@module": "my_plugin",
        #  "@timestamp": "2026-11-25T19:20:40.123456Z", "elapsed_ms": "1200"}  (ints as text)
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the JSON line for ``record`` (without the newline)."""
        try:
            message = _message(record)
        except Exception:
            message = f"{_text(record.msg)} {_text(record.args)}"
        # The served call's context (refId, endpoint, datasource...) first: a record's own
        # ``extra`` wins over it.
        fields: dict[str, object] = {
            key: _json_safe(value) for key, value in current_log_fields().items()
        }
        for key, value in record.__dict__.items():
            if key in _RECORD_ATTRIBUTES or key.startswith("_"):
                continue
            name = _text(key)
            safe = _REDACTED if _is_credential(name, value) else _json_safe(value)
            fields[f"extra.{name}" if name in _RESERVED else name] = safe
        if record.exc_info and record.exc_info[0] is not None:
            fields["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        elif record.exc_text:
            fields["traceback"] = record.exc_text
        if record.stack_info:
            fields["stack"] = record.stack_info
        timestamp = datetime.fromtimestamp(record.created, tz=UTC)
        entry: dict[str, object] = {
            "@level": level_name(record.levelno),
            "@message": _text(message),
            "@module": _text(record.name),
            "@timestamp": timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            **fields,
        }
        return _encode_bounded(entry)


def _encode(entry: Mapping[str, object]) -> str:
    return json.dumps(entry, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _encode_bounded(entry: dict[str, object]) -> str:
    """Encode ``entry``; shorten the longest values until the line fits in 64 KiB.

    ``ensure_ascii`` makes characters and bytes the same count, so lengths are exact.
    """
    line = _encode(entry)
    if len(line) < MAX_LINE_BYTES:
        return line
    entry["truncated"] = True
    budget = MAX_LINE_BYTES - 1024
    for _ in range(8):
        key = max(
            (k for k in entry if k not in ("@level", "@timestamp", "truncated")),
            key=lambda k: len(_encode({k: entry[k]})),
        )
        excess = len(line) - budget
        text = _encode({key: entry[key]})
        keep = max(0, (len(text) - excess) // 2)  # escapes may double the size: be generous
        entry[key] = _text(entry[key])[:keep] + _TRUNCATED
        line = _encode(entry)
        if len(line) < MAX_LINE_BYTES:
            return line
    minimal = {k: entry[k] for k in ("@level", "@timestamp")}
    minimal["@message"] = _text(entry.get("@message", ""))[:1024] + _TRUNCATED
    minimal["truncated"] = True
    return _encode(minimal)


class _HostStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """StreamHandler that never raises into the caller and never prints logging's own errors."""

    def handleError(self, record: logging.LogRecord) -> None:
        return


def configure_logging(level: str, stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record of the process to ``stream`` (the host's stderr) as hclog JSON.

    Installs one handler on the root logger, replacing handlers earlier configuration left there,
    so libraries' records reach Plutono too. ``level`` is an hclog level name.
    """
    if stream is None:
        stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8")
    handler = _HostStreamHandler(stream)
    handler.setFormatter(HclogFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    threshold = _PYTHON_LEVELS.get(level, logging.DEBUG)
    root.setLevel(threshold)
    # The transport's own output (every HTTP/2 frame at debug; "Request was cancelled" at info
    # each time the host resets its broker and stdio streams) drowns the plugin's records and
    # costs time on every call; below warnings it shows at ``trace`` only. So does the HTTP
    # client's (httpcore: about 15 debug lines per upstream request; httpx: one info line).
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(
            threshold if threshold <= TRACE else max(threshold, logging.WARNING)
        )
    logging.captureWarnings(True)
    return handler
