"""PostgreSQL restarted under a working studio: a PostgreSQL and a Redis of the test's own, a web
process and a worker on them, eight jobs queued behind a running one, and the database stopped for
3 s mid-job (every connection cut). The running job and the queued ones the worker takes during the
outage go back to the queue (the task retries after 1, 2, 4 ... s); every job must end succeeded
exactly once with gap-free events. Before this, the running job stayed "running" and the four taken
during the outage stayed "queued" for good (../shared/docs/defects.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import unavailable, wait_for
from tests.fleet.fleet import ROOT, Fleet, api_submit
from tests.pg_server import PostgresServer, PostgresUnavailable, start_postgres

JOBS = 9


@pytest.fixture(scope="module")
def database() -> Iterator[PostgresServer]:
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        unavailable(str(exc))
    yield server
    server.remove()


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rows(server: PostgresServer, sql: str) -> list[tuple[Any, ...]]:
    """Read the studio's tables straight from the server (this test process has no Django database
    on it); [] while the server is down."""
    try:
        with psycopg.connect(server.url.replace("postgres://", "postgresql://"), connect_timeout=2) as conn:
            return conn.execute(sql).fetchall()
    except psycopg.OperationalError:
        return []


def test_jobs_survive_a_postgres_restart(database: PostgresServer, tmp_path: Path,
                                         record_property: Callable[[str, object], None]) -> None:
    env = {**os.environ, "DATABASE_URL": database.url, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "PYTHONUNBUFFERED": "1", "STUDIO_DIAGNOSTIC_TOOLS": "1", "MEDIA_ROOT": str(tmp_path / "media")}
    manage(env, "migrate", "--verbosity", "0")
    token = manage(env, "shell", "-c", (
        "from django.contrib.auth.models import User; from apps.api.models import ApiToken; "
        "u = User.objects.create_user('pg-user', password='pw-for-tests-1'); "
        "print(ApiToken.issue(u, 'pg')[1])")).strip().splitlines()[-1]
    fleet = Fleet(env, tmp_path)
    try:
        fleet.start_redis()
        fleet.start_worker("w1")
        web = fleet.start_web()
        fleet.wait_ready()
        for i in range(JOBS):  # the first runs for 6 s; the others wait behind it
            api_submit(web.port, token, "sleep", {"steps": 60 if i == 0 else 10, "step_seconds": 0.1})
        wait_for(lambda: rows(database, "SELECT 1 FROM jobs_job WHERE state = 'running' AND step >= 5"),
                 60, "the first job to be running")
        down_for = database.restart(down_for=3.0)
        restarted = time.monotonic()
        wait_for(lambda: rows(database, "SELECT count(*) FROM jobs_job WHERE state IN "
                                          "('succeeded', 'failed', 'cancelled')") == [(JOBS,)],
                 180, "every job to end after the restart")
        took = time.monotonic() - restarted
    finally:
        fleet.stop()

    jobs = rows(database, "SELECT id, state, error, attempts, last_seq FROM jobs_job")
    assert sorted(state for _, state, *_ in jobs) == ["succeeded"] * JOBS, jobs
    events = rows(database, "SELECT job_id, array_agg(seq ORDER BY seq), "
                            "count(*) FILTER (WHERE kind = 'state' AND data->>'state' = 'succeeded') "
                            "FROM jobs_jobevent GROUP BY job_id")
    last_seq = {job_id: seq for job_id, _, _, _, seq in jobs}
    for job_id, seqs, succeeded in events:
        assert seqs == list(range(1, last_seq[job_id] + 1)) and succeeded == 1, (job_id, seqs, succeeded)
    assert len(events) == JOBS
    retried = sum(attempts > 1 for *_, attempts, _ in jobs)
    record_property("summary", f"postgres restart: down {down_for:.1f} s; all {JOBS} jobs succeeded "
                    f"{took:.1f} s after it came back; {retried} ran twice")
