"""The file tree is the architecture: no import cycles, and the wire stays in its layers.

Every import counts, at module level or inside a function, except those under
``TYPE_CHECKING`` (annotations only). Only the plugin-side runtime (``_runtime/``), the
host side (``_host/``) and the test kit (``testing.py``) may import grpclib or the generated
``_proto`` package; everything else is transport-free (STYLE 1).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "plutono_plugin"
WIRE_LAYERS = ("plutono_plugin._runtime", "plutono_plugin._host", "plutono_plugin.testing")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def sources() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in PACKAGE.rglob("*.py")
        if "_proto" not in path.relative_to(PACKAGE).parts
    }


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _walk_runtime(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if _type_checking_block(child):
            assert isinstance(child, ast.If)
            for other in child.orelse:
                yield other
                yield from _walk_runtime(other)
            continue
        yield child
        yield from _walk_runtime(child)


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """Absolute names of the modules ``path`` imports at run time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if is_package(path) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _walk_runtime(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = {f"{target}.{alias.name}" for alias in node.names} & known
            # ``from . import x`` of a submodule x depends on x (every package's __init__ runs
            # before its submodules anyway); ``from . import name`` on the package itself
            found.update(submodules if len(submodules) == len(node.names) else {target})
            found.update(submodules)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = sources()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for target in imported_modules(name, path, known):
            # importing a.b.c also runs a and a.b: only the named module is an edge here, the
            # packages' own imports are edges of their own
            if target in known and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_import_cycle_between_files() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_cycle_detector_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", sorted(sources()))
def test_only_wire_layers_import_grpclib_or_proto(name: str) -> None:
    path = sources()[name]
    imports = imported_modules(name, path, set(sources()))
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        ast.unparse(node)
        for block in ast.walk(tree)
        if _type_checking_block(block)
        for node in ast.walk(block)
        if isinstance(node, ast.Import | ast.ImportFrom)
    }
    wire = sorted(
        target
        for target in imports
        if target == "grpclib"
        or target.startswith(("grpclib.", "grpc.", "plutono_plugin._proto"))
        or target == "grpc"
    )
    if name.startswith(WIRE_LAYERS):
        return
    assert not wire, f"{name} imports {wire} at run time; only {WIRE_LAYERS} may ({typing_only})"
