"""Test settings: the studio's settings pointed at the real services on 127.0.0.1.

PostgreSQL and Redis are real here (CI starts them; see .ci/run). Subprocesses started by the
tests (Celery worker, ASGI server) import this module too, so they share the same choices.
"""

import os
import tempfile
import zlib

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")

# Redis db and var folder, chosen here unless given. Each xdist worker of a run chooses its own: its
# environment is a copy of the controller's, which imported this module first, and workers sharing a
# broker would take each other's job messages. The processes a test starts inherit their test
# process's choice (STUDIO_TEST_ENV_OWNER names the process that chose).
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... in an xdist worker
if os.environ.get("STUDIO_TEST_ENV_OWNER") != _worker:
    for _name in filter(None, os.environ.get("STUDIO_TEST_ENV_CHOSEN", "").split(",")):
        os.environ.pop(_name)  # the controller's choice, inherited
    _chosen = [name for name in ("REDIS_URL", "STUDIO_VAR_DIR") if name not in os.environ]
    os.environ["STUDIO_TEST_ENV_OWNER"], os.environ["STUDIO_TEST_ENV_CHOSEN"] = _worker, ",".join(_chosen)
    # Redis db 9 for a run in one process, 10 and 11 for its two xdist processes (tests/plugin.py);
    # 12 and 13, or 14 and 15, for a run on another database (two test runs at once on one machine).
    _db_name = os.environ["DATABASE_URL"].rsplit("/", 1)[-1]
    _index = int(_worker[2:]) % 2 if _worker else 0
    if _db_name != "test":
        _redis_db = 12 + 2 * (zlib.crc32(_db_name.encode()) % 2) + _index
    else:
        _redis_db = 10 + _index if _worker else 9
    os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{_redis_db}")
    os.environ.setdefault("STUDIO_VAR_DIR", tempfile.mkdtemp(prefix="studio-test-"))
os.environ.setdefault("STUDIO_DIAGNOSTIC_TOOLS", "1")

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
