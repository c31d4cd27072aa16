"""Decode a query's JSON into the dataclass or pydantic model a handler declares.

Dataclass fields match a JSON key of the same name or its camelCase form
(``duration_ms`` ↔ ``durationMs``); simple annotations are checked; pydantic models use their
own validation. Every failure is a :class:`ModelError` naming the field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

__all__ = ("ModelError", "decode_model", "is_model_type")


class ModelError(ValueError):
    """The query JSON does not fit the handler's model; the message names the field."""


def is_model_type(annotation: object) -> bool:
    """True for a dataclass type or a pydantic ``BaseModel`` subclass."""
    if not isinstance(annotation, type):
        return False
    return dataclasses.is_dataclass(annotation) or hasattr(annotation, "model_validate")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_SIMPLE: dict[object, tuple[type, ...]] = {
    int: (int,),
    float: (int, float),
    str: (str,),
    bool: (bool,),
    list: (list,),
    dict: (dict,),
}


def _check_value(field_name: str, annotation: object, value: object) -> None:
    origin = typing.get_origin(annotation) or annotation
    arguments = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in arguments:
            return
        for option in arguments:
            try:
                _check_value(field_name, option, value)
            except ModelError:
                continue
            return
        raise ModelError(f"field {field_name!r}: {value!r} does not match {annotation}")
    allowed = _SIMPLE.get(origin)
    if allowed is None:
        return  # types we do not check are passed through as decoded
    if isinstance(value, bool) and bool not in allowed:
        raise ModelError(f"field {field_name!r}: expected {origin.__name__}, got a boolean")  # type: ignore[union-attr]
    if not isinstance(value, allowed):
        expected = getattr(origin, "__name__", str(origin))
        raise ModelError(f"field {field_name!r}: expected {expected}, got {type(value).__name__}")


_FieldPlan = tuple[str, tuple[str, ...], object, bool]


_PLANS: dict[type[Any], tuple[_FieldPlan, ...]] = {}


def _dataclass_plan(model: type[Any]) -> tuple[_FieldPlan, ...]:
    """Per dataclass, once: (name, JSON keys, annotation, required) of each init field.

    ``typing.get_type_hints`` re-evaluates string annotations on every call; doing it per
    query was a visible share of the QueryData profile (docs/benchmarks.md).
    """
    cached = _PLANS.get(model)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(model)
    plan = []
    for field in dataclasses.fields(model):
        if not field.init:
            continue
        keys = tuple(dict.fromkeys((field.name, _camel(field.name))))
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        plan.append((field.name, keys, hints.get(field.name, Any), required))
    _PLANS[model] = tuple(plan)
    return _PLANS[model]


def decode_model(model: type[Any], data: Mapping[str, Any]) -> Any:
    """Build ``model`` from query JSON; unknown keys (refId, datasource, ...) are ignored.

    Dataclass fields match a JSON key of the same name or its camelCase form
    (``duration_ms`` ↔ ``durationMs``); simple annotations (int, float, str, bool, list, dict,
    optionals) are checked. Pydantic models use ``model_validate``.
    """
    if hasattr(model, "model_validate"):
        try:
            return model.model_validate(dict(data))
        except ValueError as error:
            problems = getattr(error, "errors", None)
            if callable(problems):
                details = "; ".join(
                    f"field {'.'.join(str(part) for part in item.get('loc', ()))!r}: "
                    f"{item.get('msg', '')}"
                    for item in problems()
                )
                raise ModelError(details) from None
            raise ModelError(str(error)) from None
    values: dict[str, Any] = {}
    for name, keys, annotation, required in _dataclass_plan(model):
        for key in keys:
            if key in data:
                _check_value(key, annotation, data[key])
                values[name] = data[key]
                break
        else:
            if required:
                raise ModelError(f"field {name!r} is required")
    try:
        return model(**values)
    except (TypeError, ValueError) as error:
        raise ModelError(str(error)) from None
