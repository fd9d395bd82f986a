"""`manage.py runstudio`: the whole studio on one machine, in one command.

Redis (the configured one, or an embedded redis-server when none answers), migrations, static
files and the pretrained starter models, one Celery worker (queues gpu and cpu), the invoke server
and the ASGI server (daphne, or uvicorn with N worker processes: apps/embedded/web.py). A child
that exits is started again after a back-off (apps/embedded/restarts.py). Ctrl-C or SIGTERM stops
them all: the web server first, then the invoke server, the worker (warm shutdown, killed after a
grace period), then Redis.
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

from apps.embedded import redis_server, web
from apps.embedded.admin_user import ensure_admin
from apps.embedded.restarts import Kept
from apps.embedded.supervisor import Child, say, wait_until


class Command(BaseCommand):
    help = "Run the studio: Redis (embedded if none is reachable), a Celery worker and the web server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("STUDIO_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("STUDIO_PORT", "8000")))
        parser.add_argument("--web-processes", type=int, default=web.processes_from_env(),
                            help="web server processes on the port (default STUDIO_WEB_PROCESSES, "
                                 "else 1: daphne; more: uvicorn workers)")
        parser.add_argument("--worker-grace", type=float, default=20.0,
                            help="seconds the worker gets to finish its job on shutdown")

    def handle(self, *args: Any, host: str, port: int, web_processes: int, worker_grace: float,
               **options: Any) -> None:
        if web_processes < 1:
            raise CommandError("--web-processes must be at least 1")
        if not redis_server.port_free(host, port):
            raise CommandError(f"{host}:{port} is in use; pick another with --port")
        self.kept: dict[str, Kept] = {}
        self.redis_url: str | None = None  # set when the Redis is the embedded one
        self.stopping = False
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        env = self._child_env()
        try:
            for step in (lambda: self._start_redis(env), self._setup,
                         lambda: self._start_worker_and_web(env, host, port, web_processes)):
                if not self.stopping:
                    step()
            self._watch()
        finally:
            self._shutdown(worker_grace)

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

    def _keep(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, **kwargs: Any) -> Kept:
        kept = Kept(name, lambda: Child(name, argv, env, cwd), **kwargs)
        self.kept[name] = kept
        return kept

    def _alive(self, kept: Kept) -> bool:
        return kept.running() and not self.stopping

    def _start_redis(self, env: dict[str, str]) -> None:
        if redis_server.reachable(settings.REDIS_URL):
            say("studio", f"Redis: using {settings.REDIS_URL}")
            return
        url, port = redis_server.embedded_url(settings.REDIS_URL)
        data_dir = Path(settings.VAR_DIR) / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        say("studio", f"Redis: none at {settings.REDIS_URL}; starting the embedded one at {url}")
        self.redis_url = url
        kept = self._keep("redis", redis_server.server_command(port, data_dir), env, data_dir,
                          on_restart=self._redis_restarted)
        if not wait_until(lambda: redis_server.reachable(url), 20, lambda: self._alive(kept)) \
                and not self.stopping:
            raise CommandError("the embedded redis-server did not start (see its output above)")
        env["REDIS_URL"] = url  # the worker and web server read it; CELERY_BROKER_URL follows it

    def _setup(self) -> None:
        t0 = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        # DEBUG is off, so static files come from STATIC_ROOT through WhiteNoise.
        call_command("collectstatic", interactive=False, verbosity=0)
        say("studio", f"Database migrated and static files collected in {time.monotonic() - t0:.1f} s "
                      f"({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})")
        self._install_starter_models()
        if self.redis_url:
            from studio.celery import app

            app.conf.broker_url = self.redis_url
            # A fresh embedded Redis keeps nothing across restarts: jobs that were still queued
            # when the studio stopped have lost their messages.
            self._requeue("left waiting by the last run")
        note = ensure_admin()
        for line in note.splitlines():
            say("studio", line)

    def _requeue(self, why: str) -> None:
        """Send the queued jobs' messages again (each gets a new task id, so a message that did
        survive is skipped as stale)."""
        from apps.jobs.services import requeue_waiting

        try:
            count = requeue_waiting()
        except Exception as exc:  # the studio goes on; the next start sends them again
            say("studio", f"Could not re-queue the waiting jobs: {type(exc).__name__}: {exc}")
            return
        if count:
            say("studio", f"Re-queued {count} job(s) {why}")

    def _redis_restarted(self) -> None:
        """The embedded Redis came back empty: once it answers, the queued jobs go to it again."""
        kept, url = self.kept["redis"], self.redis_url
        assert url is not None
        if wait_until(lambda: redis_server.reachable(url), 20, lambda: self._alive(kept)):
            self._requeue("whose messages the restarted Redis lost")

    def _install_starter_models(self) -> None:
        """Pretrained models for every tool on first run; a second run only checks (well under a
        second). A failure is shown and the studio starts anyway: an admin can fix it later."""
        try:
            call_command("install_starter_models", stdout=_Said("studio"))
        except CommandError as exc:
            say("studio", f"Starter models: {exc}")

    def _start_worker_and_web(self, env: dict[str, str], host: str, port: int, processes: int) -> None:
        py = sys.executable
        root = Path(settings.BASE_DIR)
        self._keep("worker", [
            py, "-m", "celery", "-A", "studio", "worker", "-Q", "gpu,cpu", "-c", "1",
            "--pool", "prefork", "-n", "studio@%h", "--without-gossip", "--without-mingle",
            "--loglevel", "INFO"], env, root)
        # The synchronous invokes' batching server (apps/serving/batcher.py).
        self._keep("invoke", [py, str(root / "manage.py"), "serve_invoke"], env, root)
        kept = self._keep("web", web.command(host, port, processes), env, root)
        if not wait_until(lambda: web.serving(host, port), 90, lambda: self._alive(kept)):
            if not self.stopping:
                raise CommandError("the web server did not start (see its output above)")
            return
        shown = web.local_address(host)
        served_by = "daphne" if processes == 1 else f"{processes} uvicorn worker processes"
        say("studio", "")
        say("studio", f"The studio is running at http://{shown}:{port}/  ({served_by}; Ctrl-C to stop)")
        if host not in ("127.0.0.1", "localhost"):
            say("studio", "Serving beyond this machine: set ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS.")
        say("studio", "")

    def _watch(self) -> None:
        """Until Ctrl-C or SIGTERM: start again whatever exited (after its back-off)."""
        while not self.stopping:
            for kept in list(self.kept.values()):
                if self.stopping:
                    break
                kept.check()
            time.sleep(0.3)

    def _shutdown(self, worker_grace: float) -> None:
        self.stopping = True
        # SIGTERM is Celery's warm shutdown: it finishes the running task first. A job cut off by
        # the kill is re-delivered to the next worker (late acks).
        for name, grace in (("web", 10.0), ("invoke", 5.0), ("worker", worker_grace)):
            if name in self.kept:
                self.kept[name].stop(grace)
        if "redis" in self.kept:
            self.kept["redis"].stop(10, polite=self._redis_shutdown)
        say("studio", "stopped")

    def _redis_shutdown(self) -> None:
        import redis

        assert self.redis_url is not None
        try:
            redis.Redis.from_url(self.redis_url, socket_timeout=2).shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # it closes the connection as it exits
        except redis.RedisError:
            os.killpg(self.kept["redis"].child.pid, signal.SIGTERM)


class _Said(io.TextIOBase):
    """A text stream that prints each line with the launcher's prefix (for call_command output)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def write(self, text: str) -> int:
        for line in text.splitlines():
            say(self.prefix, line)
        return len(text)
