"""A STUDIO_VAR_DIR that does not exist yet: any manage.py command creates it (and media/), so a
plain `manage.py migrate` on a fresh folder opens its SQLite file instead of failing with
"unable to open database file"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.embedded.apps import make_local_folders

ROOT = Path(__file__).resolve().parents[3]


def test_it_makes_the_var_media_and_database_folders(tmp_path: Path) -> None:
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db" / "studio.sqlite3")}
    make_local_folders(tmp_path / "var", tmp_path / "var" / "media", database)
    assert (tmp_path / "var").is_dir() and (tmp_path / "var" / "media").is_dir()
    assert (tmp_path / "db").is_dir()


def test_a_folder_it_may_not_make_is_left_to_the_code_that_writes_there(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    make_local_folders(tmp_path / "file" / "var", tmp_path / "media",
                       {"ENGINE": "django.db.backends.postgresql", "NAME": "studio"})
    assert (tmp_path / "media").is_dir()


@pytest.mark.integration  # a manage.py process: with the integration tests (tests/plugin.py)
def test_plain_migrate_works_on_a_fresh_var_dir(tmp_path: Path) -> None:
    var = tmp_path / "not-yet" / "var"
    env = dict(os.environ, STUDIO_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="studio.settings")
    for name in ("DATABASE_URL", "MEDIA_ROOT", "STATIC_ROOT"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (var / "studio.sqlite3").stat().st_size > 0 and (var / "media").is_dir()
