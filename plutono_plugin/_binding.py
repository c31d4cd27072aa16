"""Match a handler's parameters to what the framework can pass, once, at registration.

One binder serves every kind of handler (query, batch query, health check, resource, instance
factory), so a parameter means the same thing everywhere:

=======================================  ===================================================
parameter                                receives
=======================================  ===================================================
annotated with the handler's input type  the :class:`~plutono_plugin.query.Query` (a list of
                                         them for batch handlers), the
                                         :class:`~plutono_plugin.resource.ResourceRequest`,
                                         the instance factory's settings
annotated ``RequestContext``             the call's :class:`~plutono_plugin.context.RequestContext`
annotated with the plugin's options      the datasource's typed settings (``Plugin(options=...)``,
                                         :mod:`plutono_plugin.options`)
a dataclass or pydantic model            the query JSON decoded into it (query handlers)
named ``instance``                       the ``@plugin.instance`` object (or ``None``); its
                                         annotation is never evaluated
named like a path parameter              the converted path segment (resource handlers)
unannotated                              by position: the input first, the context second
=======================================  ===================================================

Everything is checked when the route is added, so a mistake fails at import time, not per call.
Handlers may be ``async def`` functions or plain ``def`` functions; a plain one runs in a worker
thread (:mod:`plutono_plugin._calls`), so a blocking library call never freezes the event loop.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal

from ._model import is_model_type, unwrap_optional
from .context import RequestContext

__all__ = ("INSTANCE_PARAMETER", "Binding", "bind_handler")

INSTANCE_PARAMETER = "instance"
"""A handler parameter of this name receives the ``@plugin.instance`` object (or ``None``)."""

Slot = Literal["input", "context", "model", "instance", "path", "options"]

_EMPTY = inspect.Parameter.empty


@dataclasses.dataclass(frozen=True, slots=True)
class Binding:
    """How to call one handler: parameter name → what to pass, plus their annotations."""

    slots: Mapping[str, Slot]
    model: type[Any] | None
    annotations: Mapping[str, Any]
    is_async: bool = True
    """False for a plain ``def`` handler, which runs in a worker thread."""

    def parameter(self, slot: Slot) -> str | None:
        """The name of the (first) parameter bound to ``slot``, if any."""
        return next((name for name, bound in self.slots.items() if bound == slot), None)

    def arguments(
        self,
        value: object,
        context: RequestContext | None,
        model: object = None,
        path: Mapping[str, Any] | None = None,
        options: object = None,
    ) -> dict[str, Any]:
        """Keyword arguments for one call (``options``: default ``context.options``)."""
        arguments: dict[str, Any] = {}
        for name, slot in self.slots.items():
            if slot == "input":
                arguments[name] = value
            elif slot == "context":
                arguments[name] = context
            elif slot == "model":
                arguments[name] = model
            elif slot == "instance":
                arguments[name] = context.instance if context is not None else None
            elif slot == "options":
                if options is None and context is not None:
                    options = context.options
                arguments[name] = options
            else:
                arguments[name] = (path or {})[name]
        return arguments


def bind_handler(
    handler: Callable[..., Any],
    *,
    kind: str,
    input_types: tuple[object, ...] = (),
    allow_model: bool = False,
    path_params: Collection[str] = (),
    allow_context: bool = True,
    check_async: bool = True,
    options_type: type[Any] | None = None,
) -> Binding:
    """Check ``handler`` and work out its :class:`Binding`; ``TypeError`` names any problem.

    Example::

        async def item(request: ResourceRequest, item_id: int, instance: Client) -> dict: ...

        binding = bind_handler(
            item, kind="resource", input_types=(ResourceRequest,), path_params=["item_id"]
        )
        assert binding.slots == {"request": "input", "item_id": "path", "instance": "instance"}
    """
    name = getattr(handler, "__qualname__", repr(handler))
    where = f"{kind} handler {name}"
    is_async = _is_coroutine_function(handler)
    if check_async and inspect.isasyncgenfunction(handler):
        raise TypeError(f"{where} must be an 'async def' (or a plain 'def') function")
    hints = _resolve_hints(handler, where)
    slots: dict[str, Slot] = {}
    annotations: dict[str, Any] = {}
    model: type[Any] | None = None
    positional: list[str] = []
    free: list[Slot] = ["input", "context"] if allow_context else ["input"]
    for parameter in inspect.signature(handler).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise TypeError(f"{where}: *args/**kwargs are not supported")
        annotation = hints.get(parameter.name, _EMPTY)
        annotations[parameter.name] = annotation
        if parameter.name == INSTANCE_PARAMETER and allow_context:
            slots[parameter.name] = "instance"  # whatever its annotation: the factory's type
        elif parameter.name in path_params:
            if parameter.kind is parameter.POSITIONAL_ONLY:
                raise TypeError(f"{where}: path parameter {parameter.name!r} is positional-only")
            slots[parameter.name] = "path"
        elif annotation is _EMPTY:
            positional.append(parameter.name)
        elif options_type is not None and unwrap_optional(annotation) is options_type:
            slots[parameter.name] = "options"
        elif _is_input(annotation, input_types):
            slots[parameter.name] = "input"
        elif annotation is RequestContext and allow_context:
            slots[parameter.name] = "context"
        elif allow_model and is_model_type(annotation):
            if model is not None:
                raise TypeError(f"{where}: more than one model parameter")
            slots[parameter.name] = "model"
            model = annotation
        elif parameter.default is not _EMPTY:
            continue
        else:
            raise TypeError(
                f"{where}: parameter {parameter.name!r} is annotated {annotation!r}, "
                "which the framework cannot provide; it provides "
                + _providable(input_types, allow_context, allow_model, options_type, path_params)
                + f" (or give {parameter.name!r} a default)"
            )
    for parameter_name in positional:
        left = [slot for slot in free if slot not in slots.values()]
        if not left:
            raise TypeError(f"{where}: unexpected parameter {parameter_name!r}")
        slots[parameter_name] = left[0]
    for path_name in path_params:
        if path_name not in slots:
            raise TypeError(f"{where} has no keyword parameter for path parameter {path_name!r}")
    return Binding(
        slots=types.MappingProxyType(slots),
        model=model,
        annotations=types.MappingProxyType(annotations),
        is_async=is_async,
    )


def _providable(
    input_types: tuple[object, ...],
    allow_context: bool,
    allow_model: bool,
    options_type: type[Any] | None,
    path_params: Collection[str],
) -> str:
    """The parameter kinds a handler of this kind may ask for, as a sentence fragment."""
    kinds = [
        " or ".join(_type_name(kind) for kind in input_types if kind not in (Any, object))
        + " (the handler's input)"
    ]
    if allow_context:
        kinds.append("RequestContext (the call's context)")
    if options_type is not None:
        kinds.append(f"{options_type.__name__} (the plugin's options)")
    elif allow_context:
        kinds.append("the plugin's options type (Plugin(options=...); this plugin declares none)")
    if allow_model:
        kinds.append("a dataclass or pydantic model (the query JSON decoded into it)")
    if allow_context:
        kinds.append(f"a parameter named {INSTANCE_PARAMETER!r} (the @plugin.instance object)")
    if path_params:
        kinds.append("the path parameters " + ", ".join(repr(name) for name in path_params))
    return ", ".join(kinds)


def _type_name(annotation: object) -> str:
    return getattr(annotation, "__name__", repr(annotation))


def _is_coroutine_function(handler: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(handler):
        return True
    # a callable object is judged by its __call__
    return not inspect.isroutine(handler) and inspect.iscoroutinefunction(type(handler).__call__)


def _is_input(annotation: object, input_types: tuple[object, ...]) -> bool:
    if annotation in input_types or typing.get_origin(annotation) in input_types:
        return True
    # ``DataSourceSettings | AppSettings`` for an instance factory taking either
    members = typing.get_args(annotation)
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return is_union and all(member in input_types or member is type(None) for member in members)


def _resolve_hints(handler: Callable[..., Any], where: str) -> dict[str, Any]:
    """The handler's annotations, evaluated; ``instance`` may name a type we cannot resolve.

    The instance's type is the factory's business (often a local or a forward reference), so
    it is not evaluated; any other annotation that cannot be resolved is a ``TypeError``.
    """
    target: Any = handler
    while isinstance(target, functools.partial):
        target = target.func
    if not (inspect.isroutine(target) or hasattr(target, "__annotations__")):
        target = type(target).__call__  # a callable object is judged by its __call__
    try:
        return typing.get_type_hints(target)
    except Exception:
        pass
    raw = inspect.get_annotations(target)
    namespace = getattr(target, "__globals__", {})
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
                f"{where}: cannot resolve the annotation of {parameter!r} ({error})"
            ) from None
    return hints
