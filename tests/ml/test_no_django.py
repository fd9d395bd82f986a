"""ml/ is plain PyTorch: no ml source names Django, apps/ or studio/ (workers and CLIs rely on it; that it
imports alone, tests/ml/test_layout.py checks in a fresh interpreter)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("django", "apps", "studio", "channels", "celery")


def test_no_ml_source_imports_django_apps_or_studio() -> None:
    offenders = []
    for path in (ROOT / "ml").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
