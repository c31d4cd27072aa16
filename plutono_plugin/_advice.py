"""Messages that name the fix: what a plugin author did wrong and what to write instead.

Shared by the query router and the handler binder, so a mistake reads the same everywhere:
an unknown query type lists the known ones, an unknown query key suggests the field it
resembles, a pandas ``DataFrame`` returned where a frame belongs names ``Frame.from_pandas``.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ._model import is_strict, suggestion, unknown_keys
from .errors import QueryError
from .frame import Frame
from .frame.meta import FrameMeta, Notice

_log = logging.getLogger("plutono_plugin.query")

__all__ = (
    "checked_keys",
    "returned_message",
    "unknown_keys_message",
    "unknown_type_message",
    "warn_unknown",
    "with_warning",
)

# What to call for data of another library: its class name → the Frame constructor.
_CONVERTERS = {
    "DataFrame": "Frame.from_pandas(df, ref_id=query.ref_id) (or Frame.from_polars for polars)",
    "Series": "Frame.from_pandas(series.to_frame())",
    "Table": "Frame.from_arrow(table)",
    "dict": "Frame.from_dict({'time': [...], 'value': [...]})",
}


def unknown_type_message(query_type: str, routes: Collection[str | None]) -> str:
    """The error for a query type without a route: a "did you mean" and the known types."""
    known = sorted(name for name in routes if name is not None)
    message = f"no handler for query type '{query_type}'{suggestion(query_type, known)}"
    if known:
        return message + "; the plugin handles " + ", ".join(f"'{name}'" for name in known)
    return message + "; the plugin registers no query handler (@plugin.query('type'))"


def unknown_keys_message(
    model: type[Any] | None, unknown: Sequence[str], *, strict: bool = False
) -> str:
    """The warning (or, for a strict model, the error) naming query keys the model lacks."""
    name = model.__name__ if model is not None else "the query model"
    keys = ", ".join(unknown)
    if strict:
        return f"unknown query key(s) {keys}: {name} has no such field"
    return (
        f"ignored unknown query key(s) {keys}: {name} has no such field, so its default was "
        f"used (strict: ClassVar[bool] = True on {name} makes this an error)"
    )


def checked_keys(model: type[Any], data: Mapping[str, Any], ref_id: str) -> list[str]:
    """Query keys ``model`` lacks; :class:`QueryError` instead when the model is strict."""
    unknown = unknown_keys(model, data)
    if unknown and is_strict(model):
        raise QueryError(unknown_keys_message(model, unknown, strict=True), ref_id=ref_id)
    return unknown


def warn_unknown(
    model: type[Any] | None, unknown: Sequence[str], frames: Sequence[Frame], query: Any
) -> list[Frame]:
    """Log the unknown keys of ``query`` and put the warning on its ``frames``."""
    text = unknown_keys_message(model, unknown)
    _log.warning("query %s: %s", query.ref_id, text, extra={"refId": query.ref_id})
    return with_warning(frames, query.ref_id, text)


def with_warning(frames: Sequence[Frame], ref_id: str, text: str) -> list[Frame]:
    """``frames`` with a warning notice on the first one (an empty frame when there is none).

    Plutono shows frame notices on the panel (contract 4.2), so the author of a query with a
    typo sees it rather than silently getting the default. The frame is copied: a handler may
    return a shared one.
    """
    result = list(frames) or [Frame("", [], ref_id=ref_id)]
    first = copy.copy(result[0])
    meta = first.meta or FrameMeta()
    first.meta = dataclasses.replace(
        meta, notices=[*meta.notices, Notice(text, severity="warning")]
    )
    result[0] = first
    return result


def returned_message(value: object, *, among_frames: bool = False) -> str:
    """The error for a query handler's result that is not a frame, naming the conversion."""
    kind = type(value).__name__
    where = f"a {kind} among its frames" if among_frames else kind
    message = (
        f"handler returned {where}; expected a Frame, a list of frames, a QueryResponse or None"
    )
    converter = _CONVERTERS.get(kind)
    if converter is not None:
        message += f": return {converter}"
    return message
