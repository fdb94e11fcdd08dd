"""No import cycles: the modules of bcecli, read with ast, import each other as a tree (and the
readers and the run import no private name from another module).

Module level for the whole package; for the readers and the run, imports inside functions
too (an import moved into a function hides a cycle from Python, not from the reader). Imports
under ``if TYPE_CHECKING:`` never run and are left out."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "bcecli"
# Packages whose modules may not import each other in a circle even from inside a function.
STRICT = ("bcecli.readers", "bcecli.run")


def module_names() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = module_names()


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(body: list[ast.stmt], *, nested: bool) -> Iterator[ast.stmt]:
    """The statements that run when the module is imported (and, with ``nested``, those of
    its functions and classes too), without ``if TYPE_CHECKING:`` blocks."""
    for node in body:
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from _statements(node.orelse, nested=nested)
            continue
        yield node
        children: list[list[ast.stmt]] = []
        if isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            children += [node.body, getattr(node, "orelse", [])]
            if isinstance(node, ast.Try):
                children += [h.body for h in node.handlers] + [node.finalbody]
        elif nested and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            children.append(node.body)
        for child in children:
            yield from _statements(child, nested=nested)


def imports(name: str, *, nested: bool) -> set[str]:
    """The bcecli modules that module ``name`` imports."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in _statements(tree.body, nested=nested):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for a in node.names:  # ``from pkg import module`` imports that module
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_cycle_at_module_level() -> None:
    graph = {m: imports(m, nested=False) for m in MODULES}
    assert cycles(graph) == []


@pytest.mark.parametrize("package", STRICT)
def test_no_cycle_through_a_package_even_inside_functions(package: str) -> None:
    graph = {m: imports(m, nested=True) for m in MODULES}
    inside = [c for c in cycles(graph) if any(m.startswith(package) for m in c)]
    assert inside == []


def test_the_walk_sees_a_cycle() -> None:
    # the checker itself: two modules importing each other, one from inside a function
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert "bcecli.readers" in imports("bcecli.run.prepare", nested=False)
    assert "bcecli.run.local" in imports("bcecli.run", nested=True)
    assert "bcecli.run.local" not in imports("bcecli.run", nested=False)


@pytest.mark.parametrize("package", STRICT)
def test_no_private_name_crosses_a_module(package: str) -> None:
    # a name with a leading underscore belongs to its module: another imports none of them
    crossing = []
    for name, path in MODULES.items():
        if not name.startswith(package):
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bcecli"):
                crossing += [f"{name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert crossing == []
