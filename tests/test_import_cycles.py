"""No import cycles in apps/, studio/ or ml/: module A never imports B when B imports A, directly or
through others. Imports inside functions and under TYPE_CHECKING count too: a function-level
import that "breaks" a cycle only hides it. Read from the source with ast; nothing is imported, so
imports made by name at run time (importlib, as ml/families.py loads the families) are not seen."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("apps", "studio", "ml")


def _modules() -> dict[str, Path]:
    """Every module of PACKAGES by dotted name (a package by its own name, for its __init__.py)."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(tree: ast.Module, module: str, is_package: bool, modules: dict[str, Path]) -> Iterator[str]:
    """The modules of ``modules`` each import statement of ``module`` loads by name (relative ones
    made absolute): ``import X.y`` loads X.y; ``from X import y`` loads X.y if that is a module, else
    X (y is a name defined in X)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                parts = package.split(".")
                source = ".".join(parts[: len(parts) - node.level + 1] + ([source] if source else []))
            names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                     for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:  # outside PACKAGES (django, torch ...) it ends empty
                name = name.rpartition(".")[0]
            if name:
                yield name


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of PACKAGES it imports. Loading X.y also runs X's __init__.py first, so
    an import of X.y counts as one of X too, unless X is a package the importer is inside (its own
    packages are loading already)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        own = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 2)}
        targets: set[str] = set()
        for name in _imported(tree, module, path.name == "__init__.py", modules):
            parts = name.split(".")
            targets |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} - own
        graph[module] = {t for t in targets if t in modules}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def cycles_in(package: str) -> list[list[str]]:
    return [c for c in cycles(import_graph()) if any(m.split(".")[0] == package for m in c)]


def test_the_checker_finds_a_cycle_through_a_function_level_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse("def f():\n    from .registry import get_tool\n")
    modules = {"apps.tools.base": Path(), "apps.tools.registry": Path()}
    assert list(_imported(tree, "apps.tools.base", False, modules)) == ["apps.tools.registry"]


@pytest.mark.parametrize("package", ["apps", "studio"])
def test_apps_and_studio_have_no_import_cycles(package: str) -> None:
    assert cycles_in(package) == []


def test_ml_has_no_import_cycles() -> None:
    assert cycles_in("ml") == []


def test_no_tool_imports_jobs() -> None:
    """The runner hands each tool a RunContext (apps/tools/context.py); apps.jobs imports the tools,
    never the reverse."""
    graph = import_graph()
    reaching = {m: sorted(t for t in targets if t == "apps.jobs" or t.startswith("apps.jobs."))
                for m, targets in graph.items() if m.startswith("apps.tools")}
    assert {m: t for m, t in reaching.items() if t} == {}
