"""Route and mount definitions for :class:`~plutono_plugin.resource.ResourceRouter`.

Everything is validated when it is created, so a bad registration fails at import time:
a handler that is not ``async def``, a malformed path template, or path parameters that do not
match the handler's parameters.
"""

from __future__ import annotations

import enum
import inspect
import re
import sys
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, NamedTuple

from ._asgi import ASGIApp
from ._binding import bind_handler
from ._resource_types import ResourceRequest

__all__ = ("Converter", "Mount", "ResourceHandler", "ResourceRoute")

ResourceHandler = Callable[..., Awaitable[Any]] | Callable[..., Any]
"""An ``async def`` (or a plain ``def``, run in a worker thread) taking any of the request, path
parameters, the context, ``instance``."""


class Converter(NamedTuple):
    """Turns a path segment into the handler's annotated type (``ValueError`` if it cannot)."""

    type_name: str
    convert: Callable[[str], Any]


def _parse_template(template: str) -> tuple[str, re.Pattern[str], list[str]]:
    """``items/{item_id}`` → (normalised path, regex, parameter names); ValueError if malformed."""
    path = template.strip("/")
    pattern, names, position = "", [], 0
    for match in re.finditer(r"{([^{}]*)}", path):
        literal = path[position : match.start()]
        if "{" in literal or "}" in literal:
            raise ValueError(f"path template {template!r} has unbalanced braces")
        name, _, kind = match.group(1).partition(":")
        if not name.isidentifier():
            raise ValueError(f"path template {template!r}: {name!r} is not a parameter name")
        if kind not in ("", "str", "path"):
            raise ValueError(
                f"path template {template!r}: unknown kind {kind!r} for {name!r} "
                "(use {name} or {name:path}; types come from the handler's annotations)"
            )
        if name in names:
            raise ValueError(f"path template {template!r} repeats parameter {name!r}")
        names.append(name)
        pattern += re.escape(literal) + f"(?P<{name}>{'.*' if kind == 'path' else '[^/]+'})"
        position = match.end()
    if "{" in path[position:] or "}" in path[position:]:
        raise ValueError(f"path template {template!r} has unbalanced braces")
    pattern += re.escape(path[position:])
    return path, re.compile(pattern), names


def _to_int(raw: str) -> int:
    if not re.fullmatch(r"[-+]?[0-9]+", raw):
        raise ValueError(raw)
    return int(raw)


def _to_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(raw)


_SIMPLE: dict[Any, Converter] = {
    str: Converter("str", str),
    int: Converter("int", _to_int),
    float: Converter("float", float),
    bool: Converter("bool", _to_bool),
}


def _converter(annotation: Any, where: str) -> Converter:
    if annotation is inspect.Parameter.empty or annotation is Any:
        return _SIMPLE[str]
    if annotation in _SIMPLE:
        return _SIMPLE[annotation]
    # A ``uuid.UUID`` annotation means the plugin imported uuid (annotations resolve in the
    # plugin's namespace); importing it here would add ~0.7 ms to every plugin's cold start.
    uuid_module = sys.modules.get("uuid")
    if uuid_module is not None and annotation is uuid_module.UUID:
        return Converter("UUID", uuid_module.UUID)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        enum_type = annotation

        def to_enum(raw: str) -> Any:
            for member in enum_type:
                if str(member.value) == raw:
                    return member
            raise ValueError(raw)

        values = ", ".join(repr(str(member.value)) for member in enum_type)
        return Converter(f"one of {values}", to_enum)
    raise TypeError(
        f"{where}: unsupported path parameter type {annotation!r} "
        "(use str, int, float, bool, uuid.UUID or an Enum)"
    )


class ResourceRoute:
    """One handler for a path template and a set of methods, validated when created.

    ``{name}`` matches one path segment, ``{name:path}`` the rest of the path (slashes
    included). Parameter types come from the handler's annotations (``item_id: int``): ``str``
    (the default), ``int``, ``float``, ``bool``, ``uuid.UUID`` or an ``Enum`` (by value). A route
    for ``GET`` also answers ``HEAD`` (without a body).

    Example::

        async def get_item(request: ResourceRequest, item_id: int) -> dict[str, int]:
            return {"id": item_id}

        router = ResourceRouter([ResourceRoute("items/{item_id}", get_item, methods=["GET"])])
    """

    __slots__ = (
        "binding",
        "converters",
        "handler",
        "methods",
        "name",
        "options_type",
        "path",
        "pattern",
    )

    def __init__(
        self,
        path: str,
        handler: ResourceHandler,
        methods: Collection[str] = ("GET",),
        name: str | None = None,
        *,
        options_type: type[Any] | None = None,
    ) -> None:
        label = getattr(handler, "__qualname__", repr(handler))
        if inspect.isasyncgenfunction(handler):
            hint = " (it is an async generator: return ResourceResponse(gen()) instead)"
            raise TypeError(f"resource handler {label} must be an 'async def' function" + hint)
        self.path, self.pattern, names = _parse_template(path)
        listed = (methods,) if isinstance(methods, str) else tuple(methods)
        if not listed or not all(re.fullmatch(r"[A-Za-z]+", method) for method in listed):
            raise ValueError(f"route {path!r}: methods must be HTTP method names, got {listed!r}")
        upper = {method.upper() for method in listed}
        if "GET" in upper:
            upper.add("HEAD")
        self.methods: frozenset[str] = frozenset(upper)
        self.handler = handler
        self.name: str = name or label
        # The plugin's typed options: a parameter annotated with it receives them (set by the
        # router the route is added to, like query routes).
        self.options_type = options_type
        self.binding = bind_handler(
            handler,
            kind="resource",
            input_types=(ResourceRequest,),
            path_params=names,
            options_type=options_type,
        )
        where = f"resource handler {label} for {self.path!r}"
        self.converters: Mapping[str, Converter] = {
            name: _converter(self.binding.annotations[name], f"{where}, parameter {name!r}")
            for name in names
        }

    def __repr__(self) -> str:
        methods = ", ".join(sorted(self.methods))
        return f"ResourceRoute({self.path!r}, {self.name}, methods=[{methods}])"


class Mount:
    """An ASGI application serving every path under ``prefix`` (``""`` serves all paths).

    The app's lifespan is not run per request; start what it needs in the plugin's lifespan.

    Example::

        router = ResourceRouter([Mount("api", starlette_app)])
    """

    __slots__ = ("app", "name", "prefix")

    def __init__(self, prefix: str, app: ASGIApp, name: str | None = None) -> None:
        self.prefix = prefix.strip("/")
        if "{" in self.prefix or "}" in self.prefix:
            raise ValueError(f"mount prefix {prefix!r} cannot contain path parameters")
        if not callable(app):
            raise TypeError(f"mount {self.prefix!r}: app must be an ASGI callable, got {app!r}")
        self.app = app
        self.name: str = name or f"asgi:{self.prefix}"

    def __repr__(self) -> str:
        return f"Mount({self.prefix!r}, {self.app!r})"

    def matches(self, path: str) -> bool:
        """Whether ``path`` (no leading slash) lies under this mount."""
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")
