"""The processes of a studio fleet on this machine, for tests/fleet: a Redis of its own (so the test
may restart it), web processes (daphne) and Celery workers that share no disk, only the database,
Redis and an S3 server. Every process is started in its own process group and ended by it."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3

from tests.conftest import free_port, service_reachable, wait_for

ROOT = Path(__file__).resolve().parents[2]

# Workers beat every second and take a silent worker's job back after 8 s; a queued job whose message
# is gone is sent again after 5 s (the defaults are 5, 30 and 30 s: docs/deploying.md).
FAST_SWEEP = {"STUDIO_HEARTBEAT_S": "1", "STUDIO_WORKER_DEAD_AFTER_S": "8", "STUDIO_SWEEP_S": "2",
              "STUDIO_REQUEUE_LOST_AFTER_S": "5"}


@dataclass
class Process:
    name: str
    proc: subprocess.Popen
    log: Path
    port: int = 0  # a web process's

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill_tree(self) -> None:
        """SIGKILL to the whole process group, as when its machine is lost."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # what is left of its group (a pool child)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


def start(name: str, argv: list[str], env: dict[str, str], logs: Path) -> Process:
    log = logs / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    return Process(name, proc, log)


@dataclass
class Fleet:
    base_env: dict[str, str]  # the database, S3 and diagnostics settings every process shares
    folder: Path
    redis_port: int = field(default_factory=free_port)
    redis: Process | None = None
    webs: list[Process] = field(default_factory=list)
    workers: dict[str, Process] = field(default_factory=dict)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self, **extra: str) -> dict[str, str]:
        env = {**self.base_env, "REDIS_URL": self.redis_url, **extra}
        env.pop("CELERY_BROKER_URL", None)  # follows REDIS_URL
        return env

    def start_redis(self) -> None:
        """redis-server on this fleet's port with no persistence: a restart loses every message."""
        self.redis = start("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no"], self.env(), self.folder)
        wait_for(lambda: service_reachable("127.0.0.1", self.redis_port), 20, "the fleet's Redis")

    def restart_redis(self) -> float:
        """Stop Redis and start it again on the same port; the seconds it was down."""
        assert self.redis is not None
        t0 = time.monotonic()
        self.redis.stop()
        self.start_redis()
        return time.monotonic() - t0

    def start_web(self) -> Process:
        port = free_port()
        web = start(f"web{len(self.webs) + 1}", [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p",
                                                 str(port), "studio.asgi:application"],
                    self.env(), self.folder)
        web.port = port
        self.webs.append(web)
        return web

    def start_worker(self, name: str) -> Process:
        """A worker with its own empty media and cache folders: whatever it reads or writes of a
        job goes through S3."""
        own = self.folder / name
        env = self.env(MEDIA_ROOT=str(own / "media"), STUDIO_LOCAL_CACHE_DIR=str(own / "cache"), **FAST_SWEEP)
        worker = start(name, [sys.executable, "-m", "celery", "-A", "studio", "worker", "-Q", "gpu,cpu",
                              "-c", "1", "--pool", "prefork", "-n", f"{name}@%h", "--without-gossip",
                              "--without-mingle", "--loglevel", "INFO"], env, self.folder)
        self.workers[name] = worker
        return worker

    def wait_ready(self) -> None:
        for web in self.webs:
            wait_for(functools.partial(service_reachable, "127.0.0.1", web.port), 60, f"{web.name} to listen")
        for worker in self.workers.values():
            wait_for(functools.partial(_says_ready, worker.log), 90, f"{worker.name} to start")

    def stop(self) -> None:
        for process in [*self.webs, *self.workers.values(), *([self.redis] if self.redis else [])]:
            process.stop()


def _says_ready(log: Path) -> bool:
    return b"ready." in log.read_bytes()


def api_submit(port: int, token: str, slug: str, params: dict[str, Any],
               files: dict[str, bytes] | None = None) -> str:
    """POST /api/tools/<slug>/jobs as multipart (urllib3 comes with boto3); the new job's id."""
    fields: dict[str, Any] = {"params": json.dumps(params)}
    fields.update({name: (f"{name}.png", data, "image/png") for name, data in (files or {}).items()})
    response = urllib3.request("POST", f"http://127.0.0.1:{port}/api/tools/{slug}/jobs", fields=fields,
                               headers={"Authorization": f"Bearer {token}"}, timeout=30, retries=False)
    assert response.status == 201, response.data[:500]
    return str(response.json()["id"])
