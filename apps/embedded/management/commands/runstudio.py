"""`manage.py runstudio`: the whole studio on one machine, in one command.

Redis (the configured one, or an embedded redis-server when none answers), migrations, static
files and the pretrained starter models, one Celery worker (queues gpu and cpu) and the ASGI server
(daphne). Ctrl-C stops them all: the web server first, then the worker (warm shutdown, killed after
a grace period), then Redis.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.embedded import redis_server
from apps.embedded.admin_user import ensure_admin
from apps.embedded.supervisor import Child, say, wait_until


class Command(BaseCommand):
    help = "Run the studio: Redis (embedded if none is reachable), a Celery worker and the web server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("STUDIO_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("STUDIO_PORT", "8000")))
        parser.add_argument("--worker-grace", type=float, default=20.0,
                            help="seconds the worker gets to finish its job on shutdown")

    def handle(self, *args: Any, host: str, port: int, worker_grace: float, **options: Any) -> None:
        if not redis_server.port_free(host, port):
            raise CommandError(f"{host}:{port} is in use; pick another with --port")
        self.children: list[Child] = []
        self.stopping = False
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        env = self._child_env()
        code = 0
        try:
            for step in (lambda: self._start_redis(env), self._setup,
                         lambda: self._start_worker_and_web(env, host, port)):
                if not self.stopping:
                    step()
            code = self._watch()
        finally:
            self._shutdown(worker_grace)
        if code:
            raise CommandError(f"a studio process exited with status {code}", returncode=code)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.stopping:
            return
        self.stopping = True
        say("studio", f"{signal.Signals(signum).name}: stopping…")

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _start_redis(self, env: dict[str, str]) -> None:
        if redis_server.reachable(settings.REDIS_URL):
            say("studio", f"Redis: using {settings.REDIS_URL}")
            return
        url, port = redis_server.embedded_url(settings.REDIS_URL)
        data_dir = Path(settings.VAR_DIR) / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        say("studio", f"Redis: none at {settings.REDIS_URL}; starting the embedded one at {url}")
        child = Child("redis", redis_server.server_command(port, data_dir), env, data_dir)
        self.redis = child
        self.children.append(child)
        self.redis_url = url
        if not wait_until(lambda: redis_server.reachable(url), 20, lambda: self._alive(child)) \
                and not self.stopping:
            raise CommandError("the embedded redis-server did not start (see its output above)")
        env["REDIS_URL"] = url  # the worker and web server read it; CELERY_BROKER_URL follows it

    def _setup(self) -> None:
        t0 = time.monotonic()
        Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        # DEBUG is off, so static files come from STATIC_ROOT through WhiteNoise.
        call_command("collectstatic", interactive=False, verbosity=0)
        say("studio", f"Database migrated and static files collected in {time.monotonic() - t0:.1f} s "
                      f"({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})")
        self._install_starter_models()
        if getattr(self, "redis_url", None):
            # A fresh embedded Redis keeps nothing across restarts: jobs that were still queued
            # when the studio stopped have lost their messages. Send them again.
            from apps.jobs.services import requeue_waiting
            from studio.celery import app

            app.conf.broker_url = self.redis_url
            count = requeue_waiting()
            if count:
                say("studio", f"Re-queued {count} job(s) left waiting by the last run")
        note = ensure_admin()
        for line in note.splitlines():
            say("studio", line)

    def _install_starter_models(self) -> None:
        """Pretrained models for every tool on first run; a second run only checks (well under a
        second). A failure is shown and the studio starts anyway: an admin can fix it later."""
        try:
            call_command("install_starter_models", stdout=_Said("studio"))
        except CommandError as exc:
            say("studio", f"Starter models: {exc}")

    def _start_worker_and_web(self, env: dict[str, str], host: str, port: int) -> None:
        py = sys.executable
        root = Path(settings.BASE_DIR)
        self.worker = Child("worker", [
            py, "-m", "celery", "-A", "studio", "worker", "-Q", "gpu,cpu", "-c", "1",
            "--pool", "prefork", "-n", "studio@%h", "--without-gossip", "--without-mingle",
            "--loglevel", "INFO"], env, root)
        self.children.append(self.worker)
        # The synchronous sentiment invoke's batching server (apps/serving/batcher.py).
        self.children.append(Child("invoke", [py, str(root / "manage.py"), "serve_invoke"], env, root))
        self.web = Child("web", [py, "-m", "daphne", "-b", host, "-p", str(port),
                                 "studio.asgi:application"], env, root)
        self.children.append(self.web)
        if not wait_until(lambda: not redis_server.port_free(host, port), 60,
                          lambda: self._alive(self.web)):
            if not self.stopping:
                raise CommandError("the web server did not start (see its output above)")
            return
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        say("studio", "")
        say("studio", f"The studio is running at http://{shown}:{port}/  (Ctrl-C to stop)")
        if host not in ("127.0.0.1", "localhost"):
            say("studio", "Serving beyond this machine: set ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS.")
        say("studio", "")

    def _alive(self, child: Child) -> bool:
        return child.running() and not self.stopping

    def _watch(self) -> int:
        while not self.stopping:
            for child in self.children:
                if not child.running():
                    say("studio", f"{child.name} exited with status {child.proc.returncode}; stopping")
                    return child.proc.returncode or 1
            time.sleep(0.3)
        return 0

    def _shutdown(self, worker_grace: float) -> None:
        self.stopping = True
        by_name = {c.name: c for c in self.children}
        if "web" in by_name:
            by_name["web"].stop(10)
        if "invoke" in by_name:
            by_name["invoke"].stop(5)
        if "worker" in by_name:
            # SIGTERM is Celery's warm shutdown: it finishes the running task first. A job cut off
            # by the kill is re-delivered to the next worker (late acks).
            by_name["worker"].stop(worker_grace)
        if "redis" in by_name:
            by_name["redis"].stop(10, polite=self._redis_shutdown)
        say("studio", "stopped")

    def _redis_shutdown(self) -> None:
        import redis

        try:
            redis.Redis.from_url(self.redis_url, socket_timeout=2).shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # it closes the connection as it exits
        except redis.RedisError:
            os.killpg(self.redis.pid, signal.SIGTERM)


class _Said(io.TextIOBase):
    """A text stream that prints each line with the launcher's prefix (for call_command output)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def write(self, text: str) -> int:
        for line in text.splitlines():
            say(self.prefix, line)
        return len(text)
