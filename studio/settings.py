"""Studio settings: every value comes from the environment, with embedded defaults that run the
studio on one machine (SQLite, Redis on localhost). See docs/configuration.md."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def envfloat(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


VAR_DIR = Path(os.environ.get("STUDIO_VAR_DIR", BASE_DIR / "var"))

DEBUG = envbool("DEBUG", False)
# Data capture (apps/catalog/capture.py): how long sampled requests are kept, and how many per variant.
STUDIO_CAPTURE_RETENTION_DAYS = envfloat("STUDIO_CAPTURE_RETENTION_DAYS", 30)
STUDIO_CAPTURE_MAX_PER_VARIANT = envint("STUDIO_CAPTURE_MAX_PER_VARIANT", 10_000)
# Drift reports (apps/catalog/drift.py): the captures compared, how often, and the alarm thresholds.
STUDIO_DRIFT_WINDOW = envint("STUDIO_DRIFT_WINDOW", 500)
STUDIO_DRIFT_MIN_CAPTURES = envint("STUDIO_DRIFT_MIN_CAPTURES", 50)
STUDIO_DRIFT_EVERY_S = envfloat("STUDIO_DRIFT_EVERY_S", 3600)
STUDIO_DRIFT_PSI = envfloat("STUDIO_DRIFT_PSI", 0.2)
STUDIO_DRIFT_P_VALUE = envfloat("STUDIO_DRIFT_P_VALUE", 0.01)
STUDIO_DRIFT_POSITIVE_SHIFT = envfloat("STUDIO_DRIFT_POSITIVE_SHIFT", 0.25)
STUDIO_DRIFT_WEBHOOK_URL = os.environ.get("STUDIO_DRIFT_WEBHOOK_URL", "")
# Who hears of what needs a person (a variant the guardrails took out): mail_admins, over SMTP.
ADMINS = [(address, address) for address in envlist("STUDIO_ADMIN_EMAILS", "")]
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", "studio@localhost")
EMAIL_SUBJECT_PREFIX = "[studio] "
# The embedded default key is only for a local single-user run; production sets SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY", "studio-insecure-local-key-change-me-in-production")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "apps.accounts",
    "apps.api",
    "apps.jobs",
    "apps.tools",
    "apps.catalog",
    "apps.embedded",
    "apps.monitoring",
    "apps.serving",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "studio.middleware.StaticFilesMiddleware",  # WhiteNoise, in a form an async chain keeps async
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "studio.middleware.RequestSizeLimitMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "studio.urls"
ASGI_APPLICATION = "studio.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'studio.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and shell share one SQLite file: wait for locks instead of failing at once.
    # Write-ahead logging: readers never wait for the writer, and a commit appends to the log without
    # an fsync (synchronous=NORMAL: a power cut may lose the last commits, never corrupt the file).
    # Each job commits 4-5 times; with the default rollback journal every commit was an fsync, 3-9 ms
    # on a quiet disk and 15-60 ms on a busy one (bench/README.md, image_tools).
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE",
                                       "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
# Media is never served directly: job files go through views that check the owner.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media-not-public/"


def storages_from_env(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Django's STORAGES for ``env``: the local disk under MEDIA_ROOT, or the S3 bucket named by
    STUDIO_S3_BUCKET (django-storages, boto3), so that workers on other machines need no shared disk.
    "default" holds every file; "work" is the same place, but a save there replaces the file of the
    same name (a job's training state is saved again and again under one key, apps/jobs/workdir.py)."""
    bucket = env.get("STUDIO_S3_BUCKET", "")
    if not bucket:
        disk = "django.core.files.storage.FileSystemStorage"
        return {"default": {"BACKEND": disk}, "work": {"BACKEND": disk, "OPTIONS": {"allow_overwrite": True}}}
    endpoint = env.get("STUDIO_S3_ENDPOINT_URL") or None
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "endpoint_url": endpoint,
        "region_name": env.get("STUDIO_S3_REGION") or "us-east-1",
        "location": env.get("STUDIO_S3_PREFIX", "").strip("/"),  # a key prefix: one bucket, many studios
        # MinIO and SeaweedFS answer at one host name, so the bucket goes in the path there.
        "addressing_style": env.get("STUDIO_S3_ADDRESSING_STYLE") or ("path" if endpoint else None),
        "signature_version": "s3v4",
        # Private: no ACL is sent, so objects get the bucket's own (private unless made public).
        # Pages stream files through views that check the owner; the only URLs made are the admin's
        # file links, presigned and valid for five minutes.
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": 300,
        "max_memory_size": 8 * 1024 * 1024,  # a download bigger than this spools to a temporary file
    }
    # Keys from the environment; without them boto3 looks further (an instance role, ~/.aws).
    for option, name in (("access_key", "AWS_ACCESS_KEY_ID"), ("secret_key", "AWS_SECRET_ACCESS_KEY")):
        if env.get(name):
            options[option] = env[name]
    s3 = "storages.backends.s3.S3Storage"
    # file_overwrite False: two files of one name get two keys, as on the local disk.
    return {"default": {"BACKEND": s3, "OPTIONS": {**options, "file_overwrite": False}},
            "work": {"BACKEND": s3, "OPTIONS": {**options, "file_overwrite": True}}}


STORAGES = {**storages_from_env(os.environ),
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# This machine's own copies, never shared: checkpoints by sha256 (a worker downloads each once) and
# the work folder of each running job attempt (removed when the attempt ends).
STUDIO_LOCAL_CACHE_DIR = Path(os.environ.get("STUDIO_LOCAL_CACHE_DIR", VAR_DIR / "cache"))
# A training's state goes to storage when its attempt ends, and every this many seconds while it runs
# when it changed, so a worker that dies (or is killed) loses at most this much training.
STUDIO_TRAINING_STATE_SYNC_SECONDS = envfloat("STUDIO_TRAINING_STATE_SYNC_SECONDS", 60.0)
# manage.py purge_job_files removes the files of jobs finished more than this many days ago.
STUDIO_JOB_FILE_RETENTION_DAYS = envint("STUDIO_JOB_FILE_RETENTION_DAYS", 30)

# Uploads: Django keeps small ones in memory and streams big ones to disk; the studio's own limit
# (STUDIO_MAX_UPLOAD_BYTES) is checked per file by the forms, and the request as a whole is capped.
STUDIO_MAX_UPLOAD_BYTES = envint("STUDIO_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
# Checkpoints are read only with torch.load(weights_only=True), and never when larger than this.
STUDIO_MAX_CHECKPOINT_BYTES = envint("STUDIO_MAX_CHECKPOINT_BYTES", 2_000_000_000)
# Validating a checkpoint may map this much memory, plus 3x the file, beyond what its process maps
# already (relative: a CUDA build of torch maps ~3 GB on import); past it allocation fails and the
# version is invalid. Uploads are checked in a child process, stopped after 3/4 of the timeout below.
STUDIO_VALIDATION_MEMORY_BYTES = envint("STUDIO_VALIDATION_MEMORY_BYTES", 4 * 1024**3)
# A version still pending this long after its validation began ends invalid (apps/catalog/sweep.py).
STUDIO_VALIDATION_TIMEOUT_S = envint("STUDIO_VALIDATION_TIMEOUT_S", 90)
STUDIO_MAX_IMAGE_PIXELS = envint("STUDIO_MAX_IMAGE_PIXELS", 40_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
STUDIO_MAX_REQUEST_BYTES = envint("STUDIO_MAX_REQUEST_BYTES", 2 * STUDIO_MAX_UPLOAD_BYTES + 1024 * 1024)
# A training set is one zip (a CycleGAN takes two): far more than a picture, so the training tools'
# pages take up to this per zip (studio/upload_limits.py). Signed-in users only reach those pages.
STUDIO_MAX_TRAINING_UPLOAD_BYTES = envint("STUDIO_MAX_TRAINING_UPLOAD_BYTES", 200 * 1024 * 1024)

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# Redis pub/sub (issue 17): each web process subscribes once to a job's group channel, however many
# of its WebSockets watch the job, and fans each event out to them in memory; a push is one PUBLISH.
# RedisChannelLayer (the default layer) keeps groups as Redis sets and every socket's joining and
# leaving is a Redis command through a pool of at most 100 connections: 300 sockets opening or
# closing at once failed theirs (MaxConnectionsError, code 1011), and a channel whose group_discard
# failed stayed in the group for a day. Pub/sub delivers at most once, as pushes were already best
# effort: every event is stored with its sequence number before it is pushed, the consumer fills a
# gap from the database when the next push shows one (apps/jobs/consumers.py) and a page that
# reconnects replays. After a Redis restart the layer subscribes again by itself; RedisChannelLayer's
# group sets were lost with the restart, and its sockets got nothing more.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL}]},
    }
}

# Celery: the CELERY_ namespace is read by studio/celery.py.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None  # the Job row is the truth; Celery results are not kept
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
# Late acks + reject on worker loss: a job whose worker dies goes back to the queue and is re-run
# (the runner gives up after STUDIO_MAX_ATTEMPTS and marks it failed), never "running" forever.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 6 * 3600)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Keep running a job when the broker connection drops (a Redis restart): the job's row, heartbeat and
# fencing are in the database, so it finishes and is stored; cancelling it would only run it again.
# Set explicitly, which also silences Celery's long warning at each lost connection.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 6 * 3600 + 600)}
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
# Celery's Django fixup closes the worker's database connections before and after every task unless
# told to reuse them. With SQLite the worker keeps its connection (closed after 5,000 tasks): opening
# the file again (connect, the WAL pragmas, Django's SQL functions) cost each job 1-3 ms, and a local
# file does not restart under it. A PostgreSQL connection stays one per task, so one that a restarted
# server broke is never reused.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    CELERY_DB_REUSE_MAX = 5000
# The worker's main process imports these before it forks its pool processes: torch and every tool
# (3-4 s on a CPU) load once at start-up, not in the first job of each pool process.
CELERY_IMPORTS = ["apps.tools.registry"]

# Per-user limits: jobs queued or running at once, and API requests per minute. Past either, a 429
# with Retry-After (apps/jobs/services.py, apps/api/api.py).
STUDIO_MAX_ACTIVE_JOBS_PER_USER = envint("STUDIO_MAX_ACTIVE_JOBS_PER_USER", 200)
STUDIO_API_REQUESTS_PER_MINUTE = envint("STUDIO_API_REQUESTS_PER_MINUTE", 1200)
# The cache holds the API's request counters: in Redis, so all web processes count together.
# django-redis, not Django's own Redis backend: under ASGI every request gets a fresh cache object,
# and Django's opens a new connection pool (and a new connection) with it, on each API request's
# rate-limit check; django-redis keeps one pool per process.
CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": REDIS_URL,
                      "KEY_PREFIX": "studio"}}

# Webhooks to loopback, private or link-local addresses are refused (SSRF) unless this is on.
STUDIO_WEBHOOK_ALLOW_PRIVATE = envbool("STUDIO_WEBHOOK_ALLOW_PRIVATE", False)

# Synchronous invoke (POST /api/tools/sentiment/invoke): how long a request waits for its answer.
STUDIO_INVOKE_TIMEOUT_S = envfloat("STUDIO_INVOKE_TIMEOUT_S", 10.0)

# /metrics (Prometheus): open unless this is set; then scrapes need "Authorization: Bearer <it>".
STUDIO_METRICS_TOKEN = os.environ.get("STUDIO_METRICS_TOKEN", "")

# The "sleep" diagnostics tool, for tests and for checking a deployment's workers.
STUDIO_DIAGNOSTIC_TOOLS = envbool("STUDIO_DIAGNOSTIC_TOOLS", False)
STUDIO_MAX_ATTEMPTS = envint("STUDIO_MAX_ATTEMPTS", 2)
# A worker running a job writes a heartbeat this often; a job whose worker has been silent for longer
# than STUDIO_WORKER_DEAD_AFTER_S is queued again (or failed, out of attempts) by the sweep that every
# worker runs every STUDIO_SWEEP_S (0: this worker does not sweep). The sweep also re-sends jobs queued
# for over STUDIO_REQUEUE_LOST_AFTER_S whose message the broker lost (apps/jobs/reaper.py).
STUDIO_HEARTBEAT_S = envfloat("STUDIO_HEARTBEAT_S", 5.0)
STUDIO_WORKER_DEAD_AFTER_S = envfloat("STUDIO_WORKER_DEAD_AFTER_S", 30.0)
STUDIO_SWEEP_S = envfloat("STUDIO_SWEEP_S", 10.0)
STUDIO_REQUEUE_LOST_AFTER_S = envfloat("STUDIO_REQUEUE_LOST_AFTER_S", 30.0)
# A running job asked to cancel gets this long to stop at a progress check before its worker
# child is killed.
STUDIO_CANCEL_GRACE_SECONDS = envfloat("STUDIO_CANCEL_GRACE_SECONDS", 10.0)
# Progress events are throttled to this many per second per job (the final one always goes).
STUDIO_EVENTS_PER_SECOND = envfloat("STUDIO_EVENTS_PER_SECOND", 4.0)

# Each worker process keeps the models it loaded, least recently used evicted beyond this many
# bytes of weights (per process: a worker with -c 4 may hold four times this).
STUDIO_MODEL_CACHE_BYTES = envint("STUDIO_MODEL_CACHE_BYTES", 4 * 1024**3)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
