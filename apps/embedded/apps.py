from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class EmbeddedConfig(AppConfig):
    """The one-command local run (`manage.py runstudio`): no models, only the launcher."""

    name = "apps.embedded"

    def ready(self) -> None:
        make_local_folders(settings.VAR_DIR, settings.MEDIA_ROOT, settings.DATABASES["default"])


def make_local_folders(var_dir: Path, media_root: Path, db: Mapping[str, object]) -> None:
    """STUDIO_VAR_DIR, MEDIA_ROOT and the SQLite file's folder, so that the first command on a
    fresh STUDIO_VAR_DIR (a plain `manage.py migrate`, before runstudio ever ran) can open its
    database instead of failing with "unable to open database file"."""
    folders = [Path(var_dir), Path(media_root)]
    name = str(db["NAME"])
    if db["ENGINE"] == "django.db.backends.sqlite3" and os.path.isabs(name):
        folders.append(Path(name).parent)
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            # Read-only here, or unused (media in object storage): the code that writes there
            # reports the real error, and commands that never write there still run.
            pass
