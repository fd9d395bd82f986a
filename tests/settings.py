"""Test settings: the studio's settings pointed at the real services on 127.0.0.1.

PostgreSQL and Redis are real here (CI starts them; see .ci/run). Subprocesses started by the
tests (Celery worker, ASGI server) import this module too, so they share the same choices.
"""

import os
import tempfile
import zlib

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
# Redis db 9, or, for a run on another database (two test runs at once on one machine), a db of its
# own: runs sharing a broker would take each other's job messages.
_db_name = os.environ["DATABASE_URL"].rsplit("/", 1)[-1]
_redis_db = 9 if _db_name == "test" else 10 + zlib.crc32(_db_name.encode()) % 6
os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{_redis_db}")
os.environ.setdefault("STUDIO_DIAGNOSTIC_TOOLS", "1")
os.environ.setdefault("STUDIO_VAR_DIR", tempfile.mkdtemp(prefix="studio-test-"))

from studio.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
# Media as the studio's settings choose it (the local disk, or S3 when STUDIO_S3_BUCKET is set: the
# object-storage tests start their worker and web server so); no manifest: tests never collectstatic.
STORAGES = {**STORAGES,  # noqa: F405
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

# Serve static files straight from the source folders: test servers never run collectstatic.
WHITENOISE_USE_FINDERS = True

# Counters in the test process's memory: the unit tests need no Redis (the real stack's processes
# each count their own, which no test relies on).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
