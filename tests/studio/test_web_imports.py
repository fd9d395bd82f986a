"""The web process stays free of torch: Django set up, every URL's view, the ASGI application, the
tool registry with its forms and the admin load without it (models run in the workers and the
invoke server, which import torch where a model runs). A fresh interpreter, so nothing this test
process has imported counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration  # starts a Python process of the studio (tests/plugin.py)

SCRIPT = r"""
import json, re, sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns
import studio.asgi
from django.contrib import admin
admin.autodiscover()
from apps.tools.registry import all_tools
forms = [tool.form_class for tool in all_tools()]
import apps.serving.invokers, apps.api.invoke, apps.jobs.tasks
print(json.dumps({"torch": sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")),
                  "tools": len(forms),
                  # this process image's peak memory (ru_maxrss would count the forking parent's)
                  "rss_mb": int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read())[1]) / 1024}))
"""


def test_the_web_process_imports_no_torch(tmp_path: Path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings", "STUDIO_VAR_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["torch"] == []
    assert report["tools"] >= 13
    assert report["rss_mb"] < 200, report  # issue 17: several web processes must be cheap
