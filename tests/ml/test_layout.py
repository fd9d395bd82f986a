"""Every model family in ml/ has the same layout: the same file names, an inference command line
named alike, and ml imports alone (ml/__init__.py lists the files; tests/test_import_cycles.py checks
that no ml module imports one that imports it back)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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
# The commands' names before the one layout, kept as aliases that run the new command (docs/command-line.md).
OLD_NAMES = {
    "style": {"stylize.py": "ml.style.predict", "fast_stylize.py": "ml.fast_style.predict",
              "fast_train.py": "ml.fast_style.train"},
    "dcgan": {"sample.py": "ml.dcgan.predict"},
    "cyclegan": {"translate.py": "ml.cyclegan.predict"},
    "textgen": {"generate.py": "ml.textgen.predict"},
}
COMMON = {"__init__.py", "bundled_images.py", "charts.py", "checkpoint.py", "device.py", "drift.py",
          "family.py", "image_zip.py", "images.py", "inference.py", "metrics.py", "model_cache.py",
          "progress.py", "rds.py", "safetensors_io.py", "sample_scene.py", "starter.py", "sweep.py",
          "terminal.py", "training.py", "training_cli.py", "training_run.py", "winograd.py",
          "word_vectors.py"}


def python_files(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.py")}


def test_ml_holds_only_common_and_the_families() -> None:
    folders = {p.name for p in ML.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == {"common", *FAMILIES}
    assert python_files(ML) == {"__init__.py", "families.py"}
    assert python_files(ML / "common") == COMMON


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_has_its_standard_files(family: str) -> None:
    files = python_files(ML / family) - set(OLD_NAMES.get(family, {}))
    assert files <= STANDARD, f"not a standard name: {sorted(files - STANDARD)}"
    assert files == FAMILIES[family]
    doc = ast.get_docstring(ast.parse((ML / family / "__init__.py").read_text()))
    assert doc, f"ml/{family}/__init__.py needs a docstring saying what the family is"


def test_every_registered_family_module_exists() -> None:
    from ml.families import FAMILIES as REGISTERED
    from ml.families import get_family

    get_family("dcgan")  # loads every family module
    assert set(REGISTERED) == {"dcgan", "cyclegan", "fast-style", "style-features", "textgen", "sentiment"}


# One interpreter for the checks that need ml imported alone (torch loads once, ~2 s): no Django
# settings in its environment, as a worker's child or a user's shell has none.
ALONE = """
import contextlib, importlib, io, json, pathlib, runpy, sys
modules = sorted('.'.join(p.with_suffix('').parts) for p in pathlib.Path('ml').rglob('*.py')
                 if p.name != '__init__.py')
for m in modules:
    importlib.import_module(m)
forbidden = sorted(m for m in sys.modules if m.split('.')[0] in FORBIDDEN)
helps = {}
for family in FAMILIES:
    module, out = f'ml.{family}.predict', io.StringIO()
    sys.argv = [module, '--help']
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_module(module, run_name='__main__', alter_sys=True)
        except SystemExit as exc:
            helps[family] = (exc.code, out.getvalue())
aliases = {}
for old in sorted(NEW):
    out, err = io.StringIO(), io.StringIO()
    sys.argv = [old, '--help']
    for name in (old, NEW[old]):  # imported above; -m runs a module not imported yet
        sys.modules.pop(name, None)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_module(old, run_name='__main__', alter_sys=True)
        except SystemExit as exc:
            aliases[old] = (exc.code, err.getvalue(), out.getvalue())
print(json.dumps({'modules': modules, 'forbidden': forbidden, 'helps': helps, 'aliases': aliases}))
"""
FORBIDDEN = ("django", "apps", "studio", "channels", "celery")


@pytest.fixture(scope="module")
def ml_alone() -> dict[str, Any]:
    """Every ml module imported in a fresh interpreter, then each ``python -m ml.<family>.predict
    --help`` run as -m runs it (runpy)."""
    families = sorted(f for f, files in FAMILIES.items() if "predict.py" in files)
    new = {f"ml.{family}.{name[:-3]}": module for family, names in OLD_NAMES.items()
           for name, module in names.items()}
    script = f"FORBIDDEN = {FORBIDDEN!r}\nFAMILIES = {families!r}\nNEW = {new!r}\n{ALONE}"
    done = subprocess.run([sys.executable, "-c", script], cwd=ML.parent, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ML.parent)}, timeout=300)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_importing_all_of_ml_pulls_in_no_django_or_apps(ml_alone: dict[str, Any]) -> None:
    assert len(ml_alone["modules"]) > 60 and "ml.dcgan.training" in ml_alone["modules"]
    assert ml_alone["forbidden"] == []


def test_every_prediction_command_line_answers_help(ml_alone: dict[str, Any]) -> None:
    families = sorted(f for f, files in FAMILIES.items() if "predict.py" in files)
    assert sorted(ml_alone["helps"]) == families
    for family, (code, text) in ml_alone["helps"].items():
        assert code == 0 and f"python -m ml.{family}.predict" in text, (family, code, text[:300])


def test_the_old_command_names_still_run_the_new_commands(ml_alone: dict[str, Any]) -> None:
    expected = {f"ml.{family}.{name[:-3]}": new for family, names in OLD_NAMES.items()
                for name, new in names.items()}
    assert sorted(ml_alone["aliases"]) == sorted(expected)
    for old, (code, note, text) in ml_alone["aliases"].items():
        new = expected[old]
        assert code == 0 and note == f"note: python -m {old} is now python -m {new}\n", (old, note)
        assert f"usage: python -m {new}" in text, (old, text[:300])
