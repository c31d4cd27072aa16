"""Docs that cannot drift: every example in README.md and docs/*.md runs in this suite.

How a page's examples are checked (the convention for anyone writing docs):

* Every fenced ``python`` block is **executed**. The blocks of one page run in order in one
  namespace (like a doctest session), so a later block may use what an earlier one defined.
  Afterwards every ``test_*`` function the page defined that takes no parameters is called
  (awaited if ``async``); ones that take fixtures are only defined.
* An HTML comment on the line right before the opening fence changes that:

  - ``<!-- fragment -->``: the block uses names it does not define (``...`` bodies, a
    ``cursor`` from nowhere). It is only compiled (top-level ``await`` allowed), not run.
  - ``<!-- uses: my_plugin=examples/quickstart/plugin.py -->``: before the block runs,
    ``import my_plugin`` (any dotted name, comma-separated pairs) loads that file of this
    repository, so an example that imports "your plugin" runs against a real one.

* Every **command line** shown, in a fenced block (``sh``, ``console``, ``text``, …; a
  leading ``$ `` is dropped) or inline (```plutono-plugin build SOURCE --out DIR```), is
  parsed by the real ``plutono-plugin`` argument parser: the subcommand and every option must
  exist. Optional parts in ``[...]`` are checked as if given, the first of ``A|B``
  alternatives stands for all; a line with ``...`` or ``…`` only checks its subcommand.
  ``make TARGET`` lines must name a target of the Makefile. The commands are *run* elsewhere:
  the README's author steps (``new``, ``pytest``, ``build``, ``host … demo``, ``doctor``) by
  ``tests/cli/test_new.py`` and ``tests/package/test_dist.py``, ``package`` by
  ``tests/cli/test_package.py``, ``host`` commands by ``tests/host/test_host.py``,
  ``build --dev`` and ``host … dev`` by ``tests/cli/test_dev.py``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import inspect
import re
import shlex
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from plutono_plugin.cli import host as host_cli
from plutono_plugin.cli.main import build_parser
from tests._tools import ROOT, load_example

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.DOTALL | re.MULTILINE,
)
MARKER = re.compile(r"<!--\s*(?P<kind>fragment|uses:)\s*(?P<value>[^>]*?)\s*-->\s*$")
COMMAND = re.compile(r"^(?:\$ )?(?:\S*/)?(?P<command>plutono-plugin|make)\s+(?P<rest>.*)$")
INLINE = re.compile(r"`(?:\S*/)?(?P<command>plutono-plugin|make) (?P<rest>[^`]+)`")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    page: Path
    line: int
    language: str
    code: str
    marker: str  # "", "fragment" or "uses:"
    value: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        indent = match.group("indent")
        code = "\n".join(line.removeprefix(indent) for line in match.group("body").splitlines())
        found.append(
            Block(
                page,
                text.count("\n", 0, match.start()) + 1,
                match.group("lang"),
                code + "\n",
                marker.group("kind") if marker else "",
                marker.group("value") if marker else "",
            )
        )
    return found


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


_LOADED: dict[Path, types.ModuleType] = {}


def loaded(path: Path) -> types.ModuleType:
    """``path`` imported once per process (a plugin's metrics may register only once)."""
    if path == ROOT / "examples" / "quickstart" / "plugin.py":
        return load_example()
    if path not in _LOADED:
        name = "docs_uses_" + re.sub(r"\W", "_", path.relative_to(ROOT).as_posix())
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, f"no file {path}"
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _LOADED[path] = module
    return _LOADED[path]


@contextlib.contextmanager
def modules_from(pairs: str) -> Iterator[None]:
    """``name=path`` pairs importable while the block runs (parent packages made up)."""
    added: list[str] = []
    try:
        for pair in filter(None, (item.strip() for item in pairs.split(","))):
            name, _, path = pair.partition("=")
            parts = name.split(".")
            for depth in range(1, len(parts)):
                parent = ".".join(parts[:depth])
                if parent not in sys.modules:
                    package = types.ModuleType(parent)
                    package.__path__ = []
                    sys.modules[parent] = package
                    added.append(parent)
            module = loaded(ROOT / path)
            sys.modules[name] = module
            added.append(name)
            if len(parts) > 1:
                setattr(sys.modules[".".join(parts[:-1])], parts[-1], module)
        yield
    finally:
        for name in reversed(added):
            sys.modules.pop(name, None)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
async def test_python_examples_run(page: Path) -> None:
    python = [block for block in blocks(page) if block.language == "python"]
    if not python:
        return
    name = "docs_example_" + re.sub(r"\W", "_", page.stem)
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses look their module up
    try:
        with contextlib.ExitStack() as stack:
            for block in python:
                flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if block.marker == "fragment" else 0
                code = compile(block.code, block.where, "exec", flags=flags, dont_inherit=True)
                if block.marker == "fragment":
                    continue
                if block.marker == "uses:":
                    stack.enter_context(modules_from(block.value))
                exec(code, module.__dict__)
            for attribute, value in list(module.__dict__.items()):
                if attribute.startswith("test_") and inspect.isfunction(value):
                    if inspect.signature(value).parameters:
                        continue
                    result = value()
                    if inspect.isawaitable(result):
                        await result
    finally:
        sys.modules.pop(name, None)


def commands(page: Path) -> Iterator[tuple[str, str, str]]:
    """(where, command, arguments) of every command line shown on ``page``."""
    text = page.read_text(encoding="utf-8")
    for block in blocks(page):
        if block.language == "python":
            continue
        joined = re.sub(r"\\\n\s*", " ", block.code)  # continuation lines
        for offset, line in enumerate(joined.splitlines(), start=1):
            match = COMMAND.match(re.sub(r"^(\$ )?sudo (-u \S+ )?", "", line.strip()))
            if match:
                where = f"{block.where}+{offset}"
                yield where, match.group("command"), match.group("rest")
    prose = FENCE.sub(lambda match: "\n" * match.group(0).count("\n"), text)
    for match in INLINE.finditer(prose):
        where = f"{page_id(page)}:{prose.count(chr(10), 0, match.start()) + 1} (inline)"
        yield where, match.group("command"), match.group("rest") + " …"


def arguments_of(rest: str) -> list[str]:
    """The words of a shown command line, optional parts and placeholders resolved."""
    rest = re.sub(r"\s+#.*$", "", rest)  # a trailing comment
    rest = re.sub(r"\[([^\]|]*)(\|[^\]]*)?\]", r"\1", rest)  # [--x A|B] -> --x A
    rest = re.sub(r"(\S+)\|\S+", r"\1", rest)  # TEXT|@file -> TEXT
    return shlex.split(rest)


class ParseError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ParseError(message)


def strict(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``parser`` (and its subparsers) raising ParseError instead of exiting."""
    parser.__class__ = Parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                strict(sub)
    return parser


MAKE_TARGETS = set(
    re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def check_command(command: str, rest: str) -> str | None:
    """The problem with one shown command line, or ``None``.

    A whole line is parsed; an elided one (``...``, ``…``, ``<placeholder>``; every inline
    mention) only needs its subcommand and each ``--option`` it names to exist.
    """
    if command == "make":
        target = rest.split()[0] if rest.split() else ""
        return None if target in MAKE_TARGETS else f"make has no target {target!r}"
    words = arguments_of(rest)
    parser = strict(build_parser())
    if words[:1] == ["host"]:
        parser = strict(host_cli.build_parser())
        words = words[1:]
        if len(words) >= 2:
            words = [words[1], words[0], *words[2:]]  # the command first, as for the others
    if any(mark in rest for mark in ("...", "…", "<")):
        if not words or words[0].startswith("<"):
            return None
        sub = subcommands(parser).get(words[0])
        if sub is None:
            return f"no command {words[0]!r}"
        known = {option for action in sub._actions for option in action.option_strings}
        unknown = [
            word for word in words if word.startswith("--") and word.split("=")[0] not in known
        ]
        return f"no option(s) {unknown}" if unknown else None
    if parser.prog == "plutono-plugin host" and len(words) >= 2:
        words = [words[1], words[0], *words[2:]]  # back to PLUGIN_DIR COMMAND ...
    try:
        parser.parse_args(words)
    except ParseError as error:
        return str(error)
    return None


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_command_lines_parse(page: Path) -> None:
    problems = [
        f"{where}: {command} {rest!r}: {problem}"
        for where, command, rest in commands(page)
        if (problem := check_command(command, rest)) is not None
    ]
    assert problems == []


def test_the_checks_catch_what_drifts() -> None:
    assert check_command("plutono-plugin", "build SOURCE --out DIR [--entry module:attr]") is None
    assert check_command("plutono-plugin", "build SOURCE --output DIR") is not None
    assert check_command("plutono-plugin", "host DIR demo --json-data '{}'") is None
    assert check_command("plutono-plugin", "host DIR demo --settings x") is not None
    assert check_command("plutono-plugin", "nope") is not None
    assert check_command("plutono-plugin", "build --dev …") is None
    assert check_command("plutono-plugin", "build --hot …") is not None
    assert check_command("plutono-plugin", "host <plugin-dir> <command>") is None
    assert check_command("make", "demo") is None
    assert check_command("make", "no-such-target") is not None
    fence = "<!-- fragment -->\n```python\nawait x\n```\n```python\nprint(1)\n```\n"
    page = ROOT / "build" / "test_docs_page.md"
    page.parent.mkdir(exist_ok=True)
    page.write_text(fence, encoding="utf-8")
    try:
        found = blocks(page)
    finally:
        page.unlink()
    assert [(block.marker, block.code) for block in found] == [
        ("fragment", "await x\n"),
        ("", "print(1)\n"),
    ]
