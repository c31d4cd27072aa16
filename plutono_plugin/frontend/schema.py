"""What the generated editors show, taken from the plugin's options type and query routes.

The schema is plain JSON, embedded in ``module.js``::

    {"pluginType": "datasource",
     "options": [FIELD, ...],                      # Plugin(options=...) fields, in order
     "queryTypes": [{"value": "sine", "label": "sine", "description": "...",
                     "fields": [FIELD, ...]}, ...],  # registered query types, in order
     "fallback": {"fields": [FIELD, ...]} | null}  # @plugin.query() without a type

    FIELD = {"key": "durationMs", "label": "Duration ms", "help": "...", "placeholder": "",
             "kind": "text|number|integer|boolean|select|json|secret",
             "choices": [{"value": ..., "label": ...}] (select only),
             "default": <JSON value or null>, "required": false,
             "template": true}  # a string: template variables are applied
"""

from __future__ import annotations

import enum
import inspect
import json
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._model import MISSING, ModelField, model_fields, unwrap_optional
from ..options import is_secret

if TYPE_CHECKING:
    from ..plugin import Plugin

__all__ = ("field_schema", "frontend_schema")

_KINDS: dict[object, str] = {str: "text", int: "integer", float: "number", bool: "boolean"}


def _json_value(value: object) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return value


def field_schema(field: ModelField, *, allow_secret: bool) -> dict[str, Any]:
    """One field of the schema (see the module docstring)."""
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
    return described


def _fields(model: type[Any] | None, *, allow_secret: bool) -> list[dict[str, Any]]:
    if model is None:
        return []
    return [field_schema(field, allow_secret=allow_secret) for field in model_fields(model)]


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
        "options": _fields(plugin.options_type, allow_secret=True),
        "queryTypes": query_types,
        "fallback": (
            None
            if fallback is None
            else {"fields": _fields(fallback.binding.model, allow_secret=False)}
        ),
    }
