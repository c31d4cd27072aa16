"""Match a handler's parameters to what the framework can pass, once, at registration.

A handler declares what it wants by annotation: the :class:`~plutono_plugin.query.Query`, the
:class:`~plutono_plugin.context.RequestContext`, or a dataclass / pydantic model that the query
JSON is decoded into; a parameter named ``instance`` receives the per-datasource instance.
Unannotated parameters are taken positionally (input first, context second).
Everything is checked when the route is added, so a mistake fails at import time, not per call.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal

from .context import RequestContext

__all__ = (
    "INSTANCE_PARAMETER",
    "Binding",
    "ModelError",
    "bind_handler",
    "decode_model",
    "is_model_type",
)

INSTANCE_PARAMETER = "instance"
"""A handler parameter of this name receives the ``@plugin.instance`` object (or ``None``)."""

Slot = Literal["input", "context", "model", "instance"]


class ModelError(ValueError):
    """The query JSON does not fit the handler's model; the message names the field."""


@dataclasses.dataclass(frozen=True, slots=True)
class Binding:
    """How to call one handler: parameter name → what to pass."""

    slots: Mapping[str, Slot]
    model: type[Any] | None

    def arguments(self, value: object, context: RequestContext, model: object) -> dict[str, Any]:
        """Keyword arguments for one call."""
        source = {"input": value, "context": context, "model": model, "instance": context.instance}
        return {name: source[slot] for name, slot in self.slots.items()}


def is_model_type(annotation: object) -> bool:
    """True for a dataclass type or a pydantic ``BaseModel`` subclass."""
    if not isinstance(annotation, type):
        return False
    return dataclasses.is_dataclass(annotation) or hasattr(annotation, "model_validate")


def bind_handler(
    handler: Callable[..., Any],
    *,
    kind: str,
    input_types: tuple[object, ...],
    allow_model: bool,
) -> Binding:
    """Check ``handler`` and work out its :class:`Binding`; ``TypeError`` names any problem."""
    name = getattr(handler, "__qualname__", repr(handler))
    if not inspect.iscoroutinefunction(handler):
        raise TypeError(f"{kind} handler {name} must be an 'async def' function")
    hints = _resolve_hints(handler, kind, name)
    slots: dict[str, Slot] = {}
    model: type[Any] | None = None
    positional: list[str] = []
    for parameter in inspect.signature(handler).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(f"{kind} handler {name}: *args/**kwargs are not supported")
        annotation = hints.get(parameter.name, inspect.Parameter.empty)
        if parameter.name == INSTANCE_PARAMETER:
            slots[parameter.name] = "instance"  # whatever its annotation: the factory's type
        elif annotation is inspect.Parameter.empty:
            positional.append(parameter.name)
        elif annotation in input_types or typing.get_origin(annotation) in input_types:
            slots[parameter.name] = "input"
        elif annotation is RequestContext:
            slots[parameter.name] = "context"
        elif allow_model and is_model_type(annotation):
            if model is not None:
                raise TypeError(f"{kind} handler {name}: more than one model parameter")
            slots[parameter.name] = "model"
            model = annotation
        elif parameter.default is not inspect.Parameter.empty:
            continue
        else:
            raise TypeError(
                f"{kind} handler {name}: parameter {parameter.name!r} has annotation "
                f"{annotation!r}, which the framework cannot provide"
            )
    for parameter_name in positional:
        free = [slot for slot in ("input", "context") if slot not in slots.values()]
        if not free:
            raise TypeError(f"{kind} handler {name}: unexpected parameter {parameter_name!r}")
        slots[parameter_name] = free[0]  # type: ignore[assignment]
    return Binding(slots=types.MappingProxyType(slots), model=model)


def _resolve_hints(handler: Callable[..., Any], kind: str, name: str) -> dict[str, Any]:
    """The handler's annotations, evaluated; ``instance`` may name a type we cannot resolve.

    The instance's type is the factory's business (often a local or a forward reference), so
    it is not evaluated; any other annotation that cannot be resolved is a ``TypeError``.
    """
    try:
        return typing.get_type_hints(handler)
    except Exception:
        pass
    raw = inspect.get_annotations(handler)
    namespace = getattr(handler, "__globals__", {})
    hints: dict[str, Any] = {}
    for parameter, annotation in raw.items():
        if parameter in (INSTANCE_PARAMETER, "return"):
            continue
        try:
            hints[parameter] = (
                eval(annotation, namespace) if isinstance(annotation, str) else annotation
            )
        except Exception as error:
            raise TypeError(
                f"{kind} handler {name}: cannot resolve the annotation of {parameter!r} ({error})"
            ) from None
    return hints


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
