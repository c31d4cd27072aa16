"""What the generated editors show, taken from the plugin's options type and query routes.

The schema is plain JSON, embedded in ``module.js``::

    {"pluginType": "datasource",
     "annotations": false,                          # plugin.json "annotations" (the build sets it)
     "options": [FIELD, ...],                      # Plugin(options=...) fields, in order
     "queryTypes": [{"value": "sine", "label": "sine", "description": "...",
                     "fields": [FIELD, ...]}, ...],  # registered query types, in order
     "fallback": {"fields": [FIELD, ...]} | null}  # @plugin.query() without a type

    FIELD = {"key": "durationMs", "label": "Duration ms", "help": "...", "placeholder": "",
             "kind": "text|number|integer|boolean|select|json|secret",
             "choices": [{"value": ..., "label": ...}] (select only),
             "default": <JSON value or null>, "required": false,
             "template": true,  # a string: template variables are applied
             # only when declared (field metadata, docs/frontend.md):
             "min": 1, "max": 100, "minExclusive": true, "maxExclusive": true,  # numbers
             "lines": 6, "code": true,          # metadata kind "multiline" / "code"
             "showWhen": {"key": "fill", "values": ["value"]},  # metadata show_when
             "choicesFrom": "tables",           # metadata choices_from: a resource path
             "annotation": <JSON value>}        # metadata annotation: value in annotation queries
"""

from __future__ import annotations

import enum
import inspect
import json
import typing
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._model import MISSING, ModelField, model_fields, unwrap_optional
from ..errors import ConfigurationError
from ..options import is_secret

if TYPE_CHECKING:
    from ..plugin import Plugin

__all__ = ("field_schema", "frontend_schema")

_KINDS: dict[object, str] = {str: "text", int: "integer", float: "number", bool: "boolean"}
_LINES = {"multiline": 3, "code": 6}
"""Rows of the multi-line editor per metadata ``kind`` (``lines`` overrides)."""


def _json_value(value: object) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return value


def field_schema(
    field: ModelField, *, allow_secret: bool, keys: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One field of the schema (see the module docstring).

    ``keys`` maps the model's field names (and JSON keys) to JSON keys, for ``show_when``.
    Raises :class:`ConfigurationError` naming the field for metadata that does not fit it.
    """
    annotation = unwrap_optional(field.annotation)
    choices: list[dict[str, Any]] | None = None
    if allow_secret and is_secret(annotation):
        kind = "secret"
    elif typing.get_origin(annotation) is typing.Literal:
        kind = "select"
        choices = [
            {"value": value, "label": str(value) if value != "" else "(none)"}
            for value in typing.get_args(annotation)
        ]
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        kind = "select"
        choices = [
            {"value": _json_value(member), "label": member.name.replace("_", " ").title()}
            for member in annotation
        ]
    else:
        kind = _KINDS.get(annotation, "json")
    described: dict[str, Any] = {
        "key": field.key,
        "label": field.label,
        "help": field.help,
        "placeholder": field.placeholder,
        "kind": kind,
        "default": None
        if field.default is MISSING or kind == "secret"
        else _json_value(field.default),
        "required": field.required,
        "template": kind == "text",
    }
    if choices is not None:
        described["choices"] = choices
    _declared(described, field, keys or {})
    return described


def _declared(described: dict[str, Any], field: ModelField, keys: Mapping[str, str]) -> None:
    """Add what the field's metadata and constraints declare (see the module docstring)."""
    metadata, kind = field.metadata, described["kind"]

    def refuse(problem: str) -> ConfigurationError:
        return ConfigurationError(f"field {field.name!r}: {problem}")

    bounds = field.bounds
    if kind in ("integer", "number"):
        for name, value in (("min", bounds.minimum), ("max", bounds.maximum)):
            if value is not None:
                described[name] = value
        if bounds.exclusive_minimum:
            described["minExclusive"] = True
        if bounds.exclusive_maximum:
            described["maxExclusive"] = True
    elif bounds.minimum is not None or bounds.maximum is not None:
        raise refuse(f"min/max need an int or float field, not a {kind} field")
    editor = metadata.get("kind")
    if editor is not None:
        if editor not in _LINES or kind not in ("text", "json"):
            raise refuse(
                f"metadata kind {editor!r}: use 'multiline' or 'code' on a str, dict or list field"
            )
        lines = metadata.get("lines", _LINES[editor])
        if isinstance(lines, bool) or not isinstance(lines, int) or lines < 1:
            raise refuse(f"metadata lines must be a positive integer, not {lines!r}")
        described["lines"] = lines
        described["code"] = editor == "code"
    show_when = metadata.get("show_when")
    if show_when is not None:
        if not (isinstance(show_when, Mapping) and len(show_when) == 1):
            raise refuse("metadata show_when must be one {field: value or [values]} entry")
        ((other, values),) = show_when.items()
        if other not in keys:
            raise refuse(f"metadata show_when names {other!r}, which is not a field of the model")
        values = list(values) if isinstance(values, list | tuple) else [values]
        described["showWhen"] = {"key": keys[other], "values": [_json_value(v) for v in values]}
    choices_from = metadata.get("choices_from")
    if choices_from is not None:
        if not isinstance(choices_from, str) or not choices_from or choices_from[0] == "/":
            raise refuse("metadata choices_from must be a resource path without a leading /")
        if kind not in ("text", "select"):
            raise refuse(f"metadata choices_from needs a str field, not a {kind} field")
        described["kind"] = "select"
        described.setdefault("choices", [])
        described["choicesFrom"] = choices_from
    if "annotation" in metadata:
        described["annotation"] = _json_value(metadata["annotation"])


def _fields(model: type[Any] | None, *, allow_secret: bool) -> list[dict[str, Any]]:
    if model is None:
        return []
    fields = model_fields(model)
    keys = {name: field.key for field in fields for name in (field.name, field.key)}
    try:
        return [field_schema(field, allow_secret=allow_secret, keys=keys) for field in fields]
    except ConfigurationError as error:
        raise ConfigurationError(f"{model.__qualname__}: {error.message}") from None


def _summary(handler: object) -> str:
    doc = inspect.getdoc(handler) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def frontend_schema(plugin: Plugin, plugin_type: str = "datasource") -> dict[str, Any]:
    """The schema of ``plugin``'s generated editors (JSON-serialisable, deterministic)."""
    routes: Sequence[Any] = plugin.queries.routes
    query_types = [
        {
            "value": route.query_type,
            "label": route.query_type or "Default",
            "description": _summary(route.handler),
            "fields": _fields(route.binding.model, allow_secret=False),
        }
        for route in routes
        if route.query_type is not None
    ]
    fallback = next((route for route in routes if route.query_type is None), None)
    return {
        "pluginType": plugin_type,
        "annotations": False,
        "options": _fields(plugin.options_type, allow_secret=True),
        "queryTypes": query_types,
        "fallback": (
            None
            if fallback is None
            else {"fields": _fields(fallback.binding.model, allow_secret=False)}
        ),
    }
