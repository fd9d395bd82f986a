"""What a job costs around its own work (bench/job_overhead.py): the first event written without a
counter round trip or a push, a progress event in one UPDATE, pushes that the job does not wait
for (still in order), one watchdog thread per process instead of one per job, and the worker's
SQLite connection kept from task to task (WAL as before)."""

from __future__ import annotations

import asyncio
import runpy
import sqlite3
import threading
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from celery.fixups.django import DjangoWorkerFixup
from channels.layers import BaseChannelLayer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.jobs import events, runner, services, watchdog
from apps.jobs.models import Job, JobState
from apps.tools.registry import get_tool
from studio.celery import app
from tests.apps.conftest import make_job

ROOT = Path(__file__).resolve().parents[3]


def statements(queries: CaptureQueriesContext, verb: str) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith(verb)]


@pytest.mark.django_db
def test_submit_writes_the_first_event_without_a_counter_round_trip_or_a_push(
        alice: Any, apply_async: mock.MagicMock, django_capture_on_commit_callbacks: Any) -> None:
    tool = get_tool("sleep")
    assert tool is not None
    with mock.patch.object(events, "broadcast") as pushed, CaptureQueriesContext(connection) as queries, \
            django_capture_on_commit_callbacks(execute=True):
        job = services.submit(alice, tool, {"steps": 1, "step_seconds": 0}, {})
    assert not pushed.called  # nobody can be listening to a job that did not exist
    assert statements(queries, "UPDATE") == []
    assert job.last_seq == 1 and Job.objects.get(pk=job.pk).last_seq == 1
    assert list(job.events.values_list("seq", "kind", "data__state")) == [(1, "state", "queued")]
    apply_async.assert_called_once()


@pytest.mark.django_db
def test_a_progress_event_is_one_update_and_still_fenced(alice: Any) -> None:
    job = make_job(alice, state=JobState.RUNNING, attempts=1)
    with CaptureQueriesContext(connection) as queries:
        events.record(job, "progress", {"step": 1, "total": 2}, attempt=1, step=1, total=2, message="one")
    assert len(statements(queries, "UPDATE")) == 1
    job.refresh_from_db()
    assert (job.last_seq, job.step, job.total, job.message) == (2, 1, 2, "one")
    with pytest.raises(events.Superseded):
        events.record(job, "progress", {"step": 2, "total": 2}, attempt=2, step=2, total=2)
    job.refresh_from_db()
    assert (job.last_seq, job.step) == (2, 1)


@pytest.mark.django_db
def test_a_transition_reads_the_row_and_its_owner_once(alice: Any) -> None:
    job = make_job(alice)
    with CaptureQueriesContext(connection) as queries:
        assert events.transition(job, JobState.RUNNING, "Starting", attempts=1)
    assert len(statements(queries, "SELECT")) == 1  # the refresh, which carries the new last_seq
    assert job.last_seq == 2 and list(job.events.values_list("seq", flat=True)) == [1, 2]
    with CaptureQueriesContext(connection) as queries:
        assert job.owner == alice  # came with the refresh: the tool's context needs it next
    assert queries.captured_queries == []


class QuietLayer(BaseChannelLayer):
    """A channel layer that takes every push and sends it nowhere (as Redis would, with no page
    listening); unlike the in-memory layer, its pushes go through the process's push thread."""

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        pass


class HeldLayer(BaseChannelLayer):
    """A channel layer whose sends wait until the test lets them go, like a slow Redis."""

    release = threading.Event()
    sent: list[int] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        while not HeldLayer.release.is_set():
            await asyncio.sleep(0.005)
        HeldLayer.sent.append(message["event"]["seq"])


@pytest.mark.django_db
def test_a_job_does_not_wait_for_its_pushes_and_they_keep_their_order(alice: Any, settings: Any) -> None:
    job = make_job(alice, state=JobState.RUNNING, attempts=1)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.HeldLayer"}}
    HeldLayer.release.clear()
    HeldLayer.sent = []
    try:
        for step in range(1, 6):
            events.record(job, "progress", {"step": step, "total": 5}, attempt=1, step=step, total=5)
        assert HeldLayer.sent == []  # every record() returned while its push was still held
        assert not events.flush_pushes(0.05)
    finally:
        HeldLayer.release.set()
    assert events.flush_pushes(5)
    assert HeldLayer.sent == [2, 3, 4, 5, 6]


@pytest.mark.django_db
def test_one_watchdog_thread_serves_every_job_of_a_process(alice: Any) -> None:
    def watchdogs() -> int:
        return sum(t.name == "job-watchdog" and t.is_alive() for t in threading.enumerate())

    for _ in range(3):
        job = make_job(alice, state=JobState.RUNNING, attempts=1)
        with watchdog.JobWatchdog(job, poll_seconds=60):
            assert watchdogs() == 1
    assert watchdogs() == 1


@pytest.mark.django_db(transaction=True)
def test_a_job_starts_no_thread_of_its_own(alice: Any, settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.QuietLayer"}}

    def run_one() -> None:
        job = make_job(alice, task_id="t-1")
        runner.run(str(job.pk), "t-1", "worker-a")
        assert Job.objects.get(pk=job.pk).state == JobState.SUCCEEDED

    run_one()  # the first starts the process's watchdog (and push) thread
    with mock.patch.object(threading.Thread, "start", autospec=True,
                           side_effect=threading.Thread.start) as started:
        run_one()
    assert started.call_count == 0


def studio_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                    database_url: str | None) -> dict[str, Any]:
    """studio/settings.py as a process with this environment reads it."""
    monkeypatch.setenv("STUDIO_VAR_DIR", str(tmp_path))
    if database_url is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", database_url)
    return runpy.run_path(str(ROOT / "studio" / "settings.py"))


def test_sqlite_runs_in_wal_mode_and_the_worker_keeps_its_connection(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    found = studio_settings(monkeypatch, tmp_path, None)
    database = found["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert found["CELERY_DB_REUSE_MAX"] >= 1000
    with sqlite3.connect(database["NAME"]) as db:
        db.executescript(database["OPTIONS"]["init_command"])
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_a_postgresql_connection_stays_one_per_task(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    found = studio_settings(monkeypatch, tmp_path, "postgres://postgres@127.0.0.1:5432/studio")
    assert "CELERY_DB_REUSE_MAX" not in found


def test_celerys_django_fixup_leaves_the_sqlite_connection_open_between_tasks(settings: Any) -> None:
    settings.CELERY_DB_REUSE_MAX = 5000  # what studio/settings.py sets for SQLite
    conn = mock.MagicMock()
    with mock.patch("django.db.connections.all", return_value=[conn]):
        fixup = DjangoWorkerFixup(app)
        for _ in range(10):  # before and after five tasks
            fixup.close_database()
    assert fixup.db_reuse_max == 5000 and not conn.close.called
