"""Every model family in ml/ has the same layout: the same file names, an inference command line
named alike, and no module importing one that imports it back (ml/__init__.py lists the files)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ML = Path(__file__).resolve().parents[2] / "ml"
STANDARD = {"__init__.py", "config.py", "model.py", "family.py", "formats.py", "data.py", "infer.py",
            "predict.py", "training.py", "train.py", "starter.py"}
TRAINS = {"data.py", "training.py", "train.py"}
# What each family has. style (Gatys) has no weights of its own (it reads a style-features network),
# so no family.py, formats.py or starter.py; style and features are fixed ImageNet-based methods, so
# nothing to train (no data.py, training.py, train.py); features has no command line of its own;
# sentiment has no public checkpoint format to import (no formats.py).
FAMILIES = {
    "style": {"__init__.py", "config.py", "model.py", "infer.py", "predict.py"},
    "features": {"__init__.py", "config.py", "model.py", "family.py", "formats.py", "infer.py", "starter.py"},
    "fast_style": STANDARD,
    "cyclegan": STANDARD,
    "dcgan": STANDARD,
    "sentiment": STANDARD - {"formats.py"},
    "textgen": STANDARD,
}
COMMON = {"__init__.py", "bundled_images.py", "charts.py", "checkpoint.py", "device.py", "family.py",
          "image_zip.py", "images.py", "metrics.py", "model_cache.py", "progress.py", "rds.py",
          "sample_scene.py", "starter.py", "terminal.py", "training.py", "training_cli.py"}


def python_files(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.py")}


def test_ml_holds_only_common_and_the_families() -> None:
    folders = {p.name for p in ML.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == {"common", *FAMILIES}
    assert python_files(ML) == {"__init__.py", "families.py"}
    assert python_files(ML / "common") == COMMON


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_has_its_standard_files(family: str) -> None:
    files = python_files(ML / family)
    assert files <= STANDARD, f"not a standard name: {sorted(files - STANDARD)}"
    assert files == FAMILIES[family]
    doc = ast.get_docstring(ast.parse((ML / family / "__init__.py").read_text()))
    assert doc, f"ml/{family}/__init__.py needs a docstring saying what the family is"


def test_every_registered_family_module_exists() -> None:
    from ml.families import FAMILIES as REGISTERED
    from ml.families import get_family

    get_family("dcgan")  # loads every family module
    assert set(REGISTERED) == {"dcgan", "cyclegan", "fast-style", "style-features", "textgen", "sentiment"}


def test_every_prediction_command_line_answers_help() -> None:
    """``python -m ml.<family>.predict --help`` for each, run as -m runs it (runpy) in one interpreter
    so torch imports once: each must exit 0 and name itself."""
    families = sorted(f for f, files in FAMILIES.items() if "predict.py" in files)
    script = (
        "import contextlib, io, runpy, sys\n"
        f"for family in {families!r}:\n"
        "    module, out = f'ml.{family}.predict', io.StringIO()\n"
        "    sys.argv = [module, '--help']\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        try:\n"
        "            runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
        "        except SystemExit as exc:\n"
        "            assert exc.code == 0, (family, exc.code)\n"
        "    assert f'python -m {module}' in out.getvalue(), (family, out.getvalue())\n"
        "    print(family)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ML.parent, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == families


def ml_imports() -> dict[str, set[str]]:
    """Module -> the ml modules it imports anywhere in it (inside functions too)."""
    graph: dict[str, set[str]] = {}
    for path in ML.rglob("*.py"):
        parts = path.relative_to(ML.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # "from ml.x import y": y may be a module (ml.x.y) or a name in ml.x
                targets.update(f"{node.module}.{a.name}" for a in node.names)
                targets.add(node.module)
        graph[module] = {t for t in targets if t.startswith("ml.")}
    return {m: {t for t in ts if t in graph and t != m} for m, ts in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_ml_module_imports_one_that_imports_it_back() -> None:
    graph = ml_imports()
    assert "ml.features.model" in graph["ml.style.model"]  # the graph sees real imports
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
