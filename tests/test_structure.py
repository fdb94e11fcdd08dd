"""The import graph: the core is a library (no click, rich, CLI or rendering), and diagnose
finds flags from tallies without knowing the report that will hold them.

The graph is read from the source (every import statement, including those inside functions
and under ``TYPE_CHECKING``), so an import hidden in a function counts as much as one at the
top of a module.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

import bcecli

PACKAGE = Path(bcecli.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def imports(module: str) -> frozenset[str]:
    """What ``module`` imports, anywhere in its source: bcecli modules by their full name
    (``from bcecli.core import x`` names ``bcecli.core.x`` when that is a module), anything
    else by its top-level package."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    named = set()
    for name in found:
        if name.split(".")[0] != "bcecli":
            named.add(name.split(".")[0])
        elif name in MODULES:
            named.add(name)
    return frozenset(named - {module})


def reachable(module: str) -> set[str]:
    """Every module ``module`` imports, directly or through other bcecli modules (a package's
    ``__init__`` runs first, so importing ``a.b`` also reaches ``a``)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for name in imports(todo.pop()):
            parents = [".".join(name.split(".")[:i]) for i in range(2, name.count(".") + 1)]
            for m in [*parents, name]:
                if m not in seen and m != module:
                    seen.add(m)
                    if m in MODULES:
                        todo.append(m)
    return seen


def test_the_graph_is_read() -> None:
    """The reader sees the imports that the rules below are about (a reader that found no
    imports would pass every rule)."""
    assert "bcecli.core.diagnose" in imports("bcecli.core.report")
    assert "bcecli.core.flags" in imports("bcecli.core.diagnose")
    assert "click" in imports("bcecli.cli")
    assert "bcecli.core.report" in reachable("bcecli.render.table")


def test_diagnose_does_not_import_the_report() -> None:
    assert "bcecli.core.report" not in reachable("bcecli.core.diagnose")


CORE = sorted(m for m in MODULES if m.startswith("bcecli.core."))
NOT_IN_CORE = ("click", "rich", "bcecli.cli", "bcecli.render")


@pytest.mark.parametrize("module", CORE)
def test_the_core_is_a_library(module: str) -> None:
    """Nothing under bcecli.core reaches the command line or the terminal."""
    bad = sorted(
        m for m in reachable(module) if any(m == b or m.startswith(b + ".") for b in NOT_IN_CORE)
    )
    assert not bad, f"{module} imports {bad}"


def test_the_report_and_its_checks_are_not_in_a_cycle() -> None:
    """No module that the report reaches imports the report back."""
    report = "bcecli.core.report"
    back = sorted(m for m in reachable(report) if m in MODULES and report in reachable(m))
    assert not back, back
