"""The API reference (docs/reference.md) is current, and every public name documents itself."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import types
from collections.abc import Iterator
from functools import cached_property as functools_cached_property
from typing import Any

from plutono_plugin._model import _attribute_docs
from tests.reference import (
    REFERENCE,
    SECTIONS,
    docstring,
    public_members,
    render,
    resolve,
)


def documented() -> Iterator[tuple[str, Any]]:
    """(name, object) of everything the reference shows."""
    for _, names in SECTIONS:
        for dotted in names:
            obj = resolve(dotted)
            if isinstance(obj, types.ModuleType):
                for member in getattr(obj, "__all__", ()):
                    yield f"{dotted}.{member}", getattr(obj, member)
            else:
                yield dotted, obj


def mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) is not None


def undescribed_parameters(function: Any, text: str) -> list[str]:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    return [
        parameter.name
        for parameter in parameters
        if parameter.name not in ("self", "cls")
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        and not mentioned(parameter.name, text)
    ]


def problems_of(name: str, obj: Any) -> Iterator[str]:
    doc = docstring(name, obj)
    if not doc.strip():
        yield f"{name}: no docstring"
    if not callable(obj) or (inspect.isclass(obj) and issubclass(obj, enum.Enum)):
        return
    if inspect.isclass(obj):
        if dataclasses.is_dataclass(obj):
            docs = _attribute_docs(obj)
            for field in dataclasses.fields(obj):
                if not field.name.startswith("_") and not (
                    docs.get(field.name) or mentioned(field.name, doc)
                ):
                    yield f"{name}: field {field.name!r} is not described"
        elif not issubclass(obj, BaseException) and "__init__" in vars(obj):
            init_doc = doc + (inspect.getdoc(obj.__init__) or "")
            for parameter in undescribed_parameters(obj.__init__, init_doc):
                yield f"{name}(): parameter {parameter!r} is not described"
        for member_name, member in public_members(obj):
            if isinstance(member, (property, functools_cached_property)):
                getter = member.fget if isinstance(member, property) else member.func
                if not inspect.getdoc(getter):
                    yield f"{name}.{member_name}: no docstring"
                continue
            member_doc = inspect.getdoc(member) or ""
            if not member_doc:
                yield f"{name}.{member_name}: no docstring"
            for parameter in undescribed_parameters(member, member_doc):
                yield f"{name}.{member_name}(): parameter {parameter!r} is not described"
    else:
        for parameter in undescribed_parameters(obj, doc):
            yield f"{name}(): parameter {parameter!r} is not described"


def test_every_public_name_has_a_docstring_describing_its_parameters_and_fields() -> None:
    """No gap (issue 18): every parameter and field is described where the reference shows it."""
    problems = sorted(problem for name, obj in documented() for problem in problems_of(name, obj))
    assert problems == [], "describe these in the docstrings"


def test_the_context_and_query_types_list_their_fields() -> None:
    from plutono_plugin import DataSourceSettings, PluginContext, Query, Secrets, TimeRange, User

    for cls in (PluginContext, DataSourceSettings, User, Secrets, TimeRange, Query):
        assert not list(problems_of(cls.__name__, cls)), cls
    page = REFERENCE.read_text(encoding="utf-8")
    assert (
        "| `decrypted_secure_json_data` | `Secrets` | empty | `secureJsonData`, decrypted" in page
    )


def test_the_reference_page_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render(), "run make reference"


def test_a_type_alias_or_constant_shows_the_docstring_under_its_assignment() -> None:
    from plutono_plugin.macros import MacroFunction
    from plutono_plugin.timeutil import TimeLike

    assert docstring("plutono_plugin.macros.MacroFunction", MacroFunction).startswith(
        "A macro: ``(context, arguments) -> text``"
    )
    # not the docstring of its type (``types.UnionType``)
    assert docstring("plutono_plugin.timeutil.TimeLike", TimeLike).startswith("A point in time")
    page = REFERENCE.read_text(encoding="utf-8")
    assert "A macro: `(context, arguments) -> text`" in page
