"""``python -m tests.reference`` (``make reference``): write docs/reference.md from the docstrings.

The API reference is plain Markdown, readable in the repository as on the site: for every
public name its signature and docstring, for dataclasses a table of their fields (type,
default, the attribute's docstring), for classes their public methods and properties.
``tests/test_reference.py`` fails when the committed page differs from what this writes, and
when a public name lacks a docstring or leaves a parameter or field undescribed.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import functools
import importlib
import inspect
import itertools
import re
import types
from collections.abc import Iterator
from functools import cached_property as functools_cached_property
from typing import Any

from plutono_plugin._model import _attribute_docs
from tests._tools import ROOT

REFERENCE = ROOT / "docs" / "reference.md"

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Plugin", ("plutono_plugin.plugin.Plugin",)),
    (
        "Queries",
        (
            "plutono_plugin.query.Query",
            "plutono_plugin.query.TimeRange",
            "plutono_plugin.query.QueryResponse",
        ),
    ),
    (
        "Frames",
        (
            "plutono_plugin.frame.Frame",
            "plutono_plugin.frame.Field",
            "plutono_plugin.frame.FieldType",
            "plutono_plugin.frame.config.FieldConfig",
            "plutono_plugin.frame.meta.FrameMeta",
            "plutono_plugin.frame.meta.Notice",
        ),
    ),
    (
        "Resources",
        (
            "plutono_plugin.resource.ResourceRequest",
            "plutono_plugin.resource.ResourceResponse",
            "plutono_plugin.resource.Headers",
        ),
    ),
    (
        "Health",
        ("plutono_plugin.diagnostics.HealthResult", "plutono_plugin.diagnostics.HealthStatus"),
    ),
    (
        "Context and settings",
        (
            "plutono_plugin.context.RequestContext",
            "plutono_plugin.context.PluginContext",
            "plutono_plugin.context.User",
            "plutono_plugin.context.DataSourceSettings",
            "plutono_plugin.context.AppSettings",
            "plutono_plugin.context.Secrets",
            "plutono_plugin.settings.Settings",
        ),
    ),
    ("Typed settings", ("plutono_plugin.options.Secret",)),
    ("Errors", ("plutono_plugin.errors",)),
    (
        "Testing",
        (
            "plutono_plugin.testing.PluginTestClient",
            "plutono_plugin.host.PluginHost",
            "plutono_plugin.host.CallError",
            "plutono_plugin.host.HealthReply",
            "plutono_plugin.host.QueryReply",
            "plutono_plugin.host.RawQueryReply",
            "plutono_plugin.host.ResourceReply",
            "plutono_plugin.host.StopResult",
            "plutono_plugin.golden.GoldenFiles",
        ),
    ),
    (
        "Building a datasource",
        (
            "plutono_plugin.http",
            "plutono_plugin.http_options",
            "plutono_plugin.timeutil",
            "plutono_plugin.macros",
            "plutono_plugin.frame.annotations",
        ),
    ),
)

_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`~?(?:[\w.]*\.)?([^`<]+?)`")


def resolve(dotted: str) -> Any:
    """The object named ``dotted`` (a module, or an attribute of one)."""
    try:
        return importlib.import_module(dotted)
    except ImportError:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(module), name)


@functools.cache
def module_attribute_docs(module_name: str) -> dict[str, str]:
    """Docstrings written under a module's assignments (``Name = value`` then a string)."""
    try:
        tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    except (ImportError, OSError, TypeError, SyntaxError):
        return {}
    docs: dict[str, str] = {}
    for statement, following in itertools.pairwise(tree.body):
        if not (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            continue
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                docs[target.id] = inspect.cleandoc(following.value.value)
    return docs


def is_value(obj: Any) -> bool:
    """True for a type alias or constant: neither a module, a class nor a function."""
    return not (inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isroutine(obj))


def docstring(dotted: str, obj: Any) -> str:
    """The docstring of ``obj``, named ``dotted``.

    A type alias or constant has none of its own (``inspect.getdoc`` gives its type's): its
    docstring is the string written under its assignment in the module.
    """
    if is_value(obj):
        return module_attribute_docs(dotted.rpartition(".")[0]).get(dotted.rpartition(".")[2], "")
    return inspect.getdoc(obj) or ""


def markdown(doc: str) -> str:
    """A docstring as Markdown: roles to code, ``Example::`` blocks fenced."""
    doc = _ROLE.sub(r"`\1`", doc).replace("``", "`")
    lines = doc.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.rstrip().endswith("::") and not line.strip().startswith(".."):
            out.append(line.rstrip()[:-1] if not line.rstrip().endswith(" ::") else line[:-3])
            index += 1
            block: list[str] = []
            while index < len(lines) and (not lines[index].strip() or lines[index][:1] == " "):
                block.append(lines[index])
                index += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            indent = min((len(b) - len(b.lstrip()) for b in block if b.strip()), default=0)
            out += ["", "```py", *(b[indent:] for b in block), "```", ""]
            continue
        if re.fullmatch(r"(Args|Raises|Returns|Attributes):", line.strip()):
            out += [f"**{line.strip()[:-1]}**", ""]
            index += 1
            while index < len(lines) and lines[index][:4] == "    ":
                entry = lines[index].strip()
                if lines[index][:8] == "        " and out and out[-1].startswith("- "):
                    out[-1] += " " + entry  # a continuation line
                else:
                    name, colon, rest = entry.partition(":")
                    out.append(f"- `{name}`:{rest}" if colon and " " not in name else f"- {entry}")
                index += 1
            out.append("")
            continue
        out.append(line)
        index += 1
    return "\n".join(out).strip()


def signature(obj: Any, name: str) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return name
    return re.sub(r"(: |-> )'([^']*)'", r"\1\2", f"{name}{text}")  # string annotations


def public_members(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods and properties defined by ``cls`` itself (not inherited from builtins)."""
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            yield name, value.__func__
        elif isinstance(value, (property, functools_cached_property)) or inspect.isfunction(value):
            yield name, value


def field_rows(cls: type) -> list[str]:
    docs = _attribute_docs(cls)
    rows = ["| Field | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    for field in dataclasses.fields(cls):
        if field.name.startswith("_"):
            continue
        if field.default is not dataclasses.MISSING:
            default = f"`{field.default!r}`"
        elif field.default_factory is not dataclasses.MISSING:
            default = "empty"
        else:
            default = "required"
        kind = str(field.type).replace("|", "\\|")
        meaning = " ".join(markdown(docs.get(field.name, "")).split()).replace("|", "\\|")
        rows.append(f"| `{field.name}` | `{kind}` | {default} | {meaning} |")
    return rows


def render_object(obj: Any, name: str, doc: str, level: str = "###") -> list[str]:
    out = [f"{level} `{name}`", ""]
    if inspect.isclass(obj) and issubclass(obj, enum.Enum):
        out += [markdown(doc), ""]
        out += [", ".join(f"`{member.name}` = `{member.value!r}`" for member in obj), ""]
        return out
    if inspect.isclass(obj):
        if not issubclass(obj, BaseException):
            out += ["```py", signature(obj, name), "```", ""]
        out += [markdown(doc), ""]
        if dataclasses.is_dataclass(obj):
            out += [*field_rows(obj), ""]
        for member_name, member in public_members(obj):
            if isinstance(member, (property, functools_cached_property)):
                getter = member.fget if isinstance(member, property) else member.func
                out += [
                    f"- `{member_name}` (property): "
                    + " ".join(markdown(inspect.getdoc(getter) or "").split("\n\n")[0].split())
                ]
            else:
                out += ["", f"#### `{name}.{signature(member, member_name)}`", ""]
                out += [markdown(inspect.getdoc(member) or "")]
        out.append("")
        return out
    if not is_value(obj):
        out += ["```py", signature(obj, name), "```", "", markdown(doc), ""]
        return out
    out += ["```py", f"{name} = {obj!r}", "```", "", markdown(doc), ""]
    return out


def render() -> str:
    out = [
        "# API reference",
        "",
        "<!-- Written by `make reference` (python -m tests.reference) from the docstrings;"
        " tests/test_reference.py fails when it is stale. Do not edit by hand. -->",
        "",
        "Everything a plugin author imports comes from `plutono_plugin`; the test kit from",
        "`plutono_plugin.testing`; the building blocks of a datasource from their modules.",
        "",
    ]
    for title, names in SECTIONS:
        out += [f"## {title}", ""]
        for dotted in names:
            obj = resolve(dotted)
            if isinstance(obj, types.ModuleType):
                out += [f"### `{dotted}`", "", markdown(inspect.getdoc(obj) or ""), ""]
                for member in getattr(obj, "__all__", ()):
                    value = getattr(obj, member)
                    out += render_object(
                        value, member, docstring(f"{dotted}.{member}", value), "####"
                    )
            else:
                out += render_object(obj, dotted.rpartition(".")[2], docstring(dotted, obj))
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)
    text = re.sub(r" at 0x[0-9a-f]+>", ">", text)  # reprs of default functions
    return text.rstrip() + "\n"


def main() -> None:
    """Rewrite docs/reference.md."""
    REFERENCE.write_text(render(), encoding="utf-8")
    print(f"wrote {REFERENCE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
