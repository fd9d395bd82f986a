"""Test settings: the studio's settings pointed at the real services on 127.0.0.1.

PostgreSQL and Redis are real here (CI starts them; see .ci/run). Subprocesses started by the
tests (Celery worker, ASGI server) import this module too, so they share the same choices.
"""

import os
import tempfile

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("STUDIO_DIAGNOSTIC_TOOLS", "1")
os.environ.setdefault("STUDIO_VAR_DIR", tempfile.mkdtemp(prefix="studio-test-"))

from studio.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # No manifest: tests never run collectstatic.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Serve static files straight from the source folders: test servers never run collectstatic.
WHITENOISE_USE_FINDERS = True
