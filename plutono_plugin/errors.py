"""Errors are data: one small tree under :class:`PluginError`.

Every error names what went wrong and carries the fields a caller needs to act on it::

    PluginError
    ├── ConfigurationError      a plugin or its environment is set up wrong (raised at start-up)
    │   └── HandshakeError      the go-plugin handshake fails (cookie, versions, listener)
    ├── FrameError              a frame cannot be encoded so Plutono reads it (field, reason)
    ├── QueryError              a query failed; becomes that refId's ``error`` (ref_id)
    ├── ResourceError           a resource call failed with an HTTP status (status)
    └── InstanceError           a per-datasource instance could not be created (datasource_id)
        └── OptionsError        a datasource's settings do not fit Plugin(options=...) (field)

Handlers may raise :class:`QueryError` and :class:`ResourceError` on purpose to choose the
message (and the status) the host sees; any other exception is caught, logged with its traceback
and reported by type and message, never crashing the process.
"""

from __future__ import annotations

__all__ = (
    "ConfigurationError",
    "describe_exception",
    "FrameError",
    "HandshakeError",
    "InstanceError",
    "OptionsError",
    "PluginError",
    "QueryError",
    "ResourceError",
)


def text_of(value: object) -> str:
    """``str(value)`` that never raises and is always valid UTF-8 (protobuf strings must be).

    A broken ``__str__`` or a lone surrogate must not turn one failure into a failed request.
    """
    if isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except BaseException as error:  # whatever a broken __str__ raises
            text = f"<unprintable {type(value).__name__}: {type(error).__name__}>"
    return text.encode("utf-8", errors="replace").decode("utf-8")


class PluginError(Exception):
    """Base of every error plutono-plugin raises on purpose."""

    def __init__(self, message: str) -> None:
        message = text_of(message)  # QueryError(12345) is a message too
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ConfigurationError(PluginError):
    """The plugin, a handler registration or the process environment is set up wrong."""


class HandshakeError(ConfigurationError):
    """The go-plugin handshake cannot be completed (contract section 1.3-1.6).

    ``exit_text`` is what goes to stderr before the process exits with status 1.
    """

    def __init__(self, message: str, *, exit_text: str | None = None) -> None:
        super().__init__(message)
        self.exit_text = exit_text if exit_text is not None else message + "\n"


class FrameError(PluginError):
    """A frame cannot be encoded so that both Plutono decoders read it.

    ``field`` names the offending field (``None`` for frame-level problems).
    """

    def __init__(self, reason: str, *, field: str | None = None, frame: str | None = None) -> None:
        where = []
        if frame:
            where.append(f"frame {frame!r}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {reason}" if prefix else reason)
        self.reason = reason
        self.field = field
        self.frame = frame

    def __repr__(self) -> str:
        return f"FrameError(reason={self.reason!r}, field={self.field!r}, frame={self.frame!r})"


class QueryError(PluginError):
    """A query failed; its message becomes the ``error`` of that refId's response."""

    def __init__(self, message: str, *, ref_id: str | None = None) -> None:
        super().__init__(message)
        self.ref_id = ref_id

    def __repr__(self) -> str:
        return f"QueryError({self.message!r}, ref_id={self.ref_id!r})"


class ResourceError(PluginError):
    """A resource call failed; answered with ``status`` and a JSON body ``{"error": message}``."""

    def __init__(self, message: str, *, status: int = 500) -> None:
        super().__init__(message)
        self.status = status

    def __repr__(self) -> str:
        return f"ResourceError({self.message!r}, status={self.status})"


class InstanceError(PluginError):
    """A per-datasource (or per-app) instance could not be created; retried on the next call."""

    def __init__(self, message: str, *, datasource_id: int | None = None) -> None:
        super().__init__(message)
        self.datasource_id = datasource_id

    def __repr__(self) -> str:
        return f"InstanceError({self.message!r}, datasource_id={self.datasource_id!r})"


class OptionsError(InstanceError):
    """A datasource's settings do not fit the plugin's declared options; ``field`` names it.

    Every call of that datasource fails with it: "Save & Test" shows an ERROR, each query
    answers it for its refId (see :mod:`plutono_plugin.options`).
    """

    def __init__(
        self, message: str, *, datasource_id: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(message, datasource_id=datasource_id)
        self.field = field

    def __repr__(self) -> str:
        return f"OptionsError({self.message!r}, field={self.field!r})"


def describe_exception(error: BaseException) -> str:
    """The text a caller sees for a handler's exception ``error``: its message, no traceback.

    A :class:`PluginError` shows its message alone (raised on purpose, worded for users); any
    other exception shows its type too (``KeyError: 'x'``), since its message alone may say little.
    """
    if isinstance(error, PluginError):
        return text_of(error.message)
    text = text_of(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
