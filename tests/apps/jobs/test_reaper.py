"""The sweep (apps/jobs/reaper.py): a running job whose worker went silent is queued again (or failed,
out of attempts) and its old attempt fenced out; a queued job whose message the broker lost is sent
again; two sweeps at once act once. Times are set on the rows, so nothing here waits."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone

from apps.jobs import events, reaper, tasks
from apps.jobs.models import Job, JobFile, JobState
from apps.jobs.reporter import JobReporter
from apps.jobs.watchdog import JobWatchdog
from tests.apps.conftest import make_job, run_job

pytestmark = pytest.mark.django_db


def running(owner: Any, silent_for: float, attempts: int = 1, **fields: Any) -> Job:
    """A job running its ``attempts``-th try whose last heartbeat was ``silent_for`` seconds ago."""
    job = make_job(owner, state=JobState.RUNNING, attempts=attempts, worker="w1@host", task_id="t-old",
                   **fields)
    beat = timezone.now() - timedelta(seconds=silent_for)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=beat, started_at=beat)
    job.refresh_from_db()
    return job


def test_a_silent_workers_job_is_queued_again_under_a_new_task_id(alice: Any, settings: Any,
                                                                    apply_async: mock.MagicMock) -> None:
    settings.STUDIO_WORKER_DEAD_AFTER_S = 30
    lost, alive = running(alice, silent_for=31), running(alice, silent_for=5)
    report = reaper.sweep()
    assert (report.requeued, report.failed, report.resent) == (1, 0, 0)
    lost.refresh_from_db()
    assert lost.state == JobState.QUEUED and lost.attempts == 1 and lost.task_id != "t-old"
    assert lost.message == "Worker lost (its worker (w1@host) was silent for over 30 s); queued again"
    apply_async.assert_called_once_with(args=[str(lost.pk)], queue="cpu", task_id=lost.task_id)
    alive.refresh_from_db()
    assert alive.state == JobState.RUNNING and alive.task_id == "t-old"
    # A second sweep (another worker's, at the same moment) finds nothing left to do.
    assert reaper.sweep() == reaper.SweepReport()
    assert apply_async.call_count == 1


def test_a_job_from_before_heartbeats_counts_from_its_start(alice: Any, settings: Any) -> None:
    settings.STUDIO_WORKER_DEAD_AFTER_S = 30
    job = running(alice, silent_for=60)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=None)
    assert reaper.sweep().requeued == 1


def test_out_of_attempts_it_fails_with_a_message_that_says_why(alice: Any, settings: Any,
                                                              apply_async: mock.MagicMock) -> None:
    settings.STUDIO_WORKER_DEAD_AFTER_S, settings.STUDIO_MAX_ATTEMPTS = 30, 2
    job = running(alice, silent_for=45, attempts=2)
    assert reaper.sweep().failed == 1
    job.refresh_from_db()
    assert (job.state, job.message) == (JobState.FAILED, "Failed: the worker was lost")
    assert job.error == ("Tried 2 times; the last time its worker (w1@host) was silent for over 30 s. "
                         "Submit it again.")
    assert job.finished_at is not None and not apply_async.called


def test_the_old_attempt_cannot_write_into_the_new_one(alice: Any, settings: Any) -> None:
    """The worker presumed dead comes back: its progress, log and results are refused, and the
    next attempt (on another worker) runs the job to the end with a gap-free event log."""
    settings.STUDIO_WORKER_DEAD_AFTER_S = 30
    job = running(alice, silent_for=40)
    zombie = JobReporter(job, cancel_poll_seconds=0)
    reaper.sweep()
    with pytest.raises(events.Superseded):
        zombie.update(5, 10, "still here")
    assert zombie.cancelled() is True
    assert events.transition(job, JobState.SUCCEEDED, "Done", attempt=1) is False
    job.refresh_from_db()
    job = run_job(job, worker="w2@host")
    assert (job.state, job.attempts, job.worker) == (JobState.SUCCEEDED, 2, "w2@host")
    assert list(job.events.values_list("seq", flat=True)) == list(range(1, job.last_seq + 1))
    assert job.files.filter(role=JobFile.Role.RESULT).count() == 1


def test_a_lost_message_is_sent_again_once(alice: Any, settings: Any, apply_async: mock.MagicMock) -> None:
    settings.STUDIO_REQUEUE_LOST_AFTER_S = 30
    old = timezone.now() - timedelta(seconds=60)
    lost, held, fresh = (make_job(alice, task_id=t) for t in ("t-lost", "t-held", "t-fresh"))
    Job.objects.filter(pk__in=[lost.pk, held.pk]).update(created_at=old)
    with mock.patch.object(reaper.broker, "held_task_ids", return_value={"t-held"}) as asked:
        assert reaper.sweep().resent == 1
    assert asked.call_args.args[0] >= {"cpu", "gpu"}
    lost.refresh_from_db()
    with mock.patch.object(reaper.broker, "held_task_ids", return_value={"t-held", lost.task_id}):
        assert reaper.sweep().resent == 0  # the broker holds its new message
    assert lost.state == JobState.QUEUED and lost.task_id not in ("t-lost", "")
    apply_async.assert_called_once_with(args=[str(lost.pk)], queue="cpu", task_id=lost.task_id)
    assert [Job.objects.get(pk=j.pk).task_id for j in (held, fresh)] == ["t-held", "t-fresh"]


def test_a_broker_that_cannot_be_asked_resends_nothing(alice: Any, settings: Any,
                                                      apply_async: mock.MagicMock) -> None:
    settings.STUDIO_REQUEUE_LOST_AFTER_S = 0
    job = make_job(alice, task_id="t-1")
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(seconds=5))
    with mock.patch.object(reaper.broker, "held_task_ids", return_value=None):
        assert reaper.sweep().resent == 0
    assert not apply_async.called


@pytest.mark.django_db(transaction=True)
def test_the_watchdog_beats_for_its_attempt_only(alice: Any, settings: Any) -> None:
    settings.STUDIO_HEARTBEAT_S = 0.05
    job = running(alice, silent_for=100)
    with JobWatchdog(job, poll_seconds=0.02):
        time.sleep(0.3)
    job.refresh_from_db()
    assert job.heartbeat_at is not None and timezone.now() - job.heartbeat_at < timedelta(seconds=5)
    Job.objects.filter(pk=job.pk).update(attempts=2, heartbeat_at=None)  # taken back and restarted
    with JobWatchdog(job, poll_seconds=0.02):
        time.sleep(0.3)
    assert Job.objects.get(pk=job.pk).heartbeat_at is None


def test_a_database_outage_retries_the_task_with_back_off() -> None:
    """The message goes back to the queue (1, 2, 4 ... 30 s) instead of being acknowledged with the
    job stuck queued."""
    asked: list[float] = []

    def retry(exc: Exception, countdown: float) -> Exception:
        asked.append(countdown)
        return RuntimeError("retry sent")

    with mock.patch.object(tasks.runner, "run", side_effect=OperationalError("connection refused")), \
            mock.patch.object(tasks.run_job, "retry", side_effect=retry):
        for retries in (0, 1, 2, 6):
            tasks.run_job.push_request(id="t-1", hostname="w1", retries=retries)
            try:
                with pytest.raises(RuntimeError, match="retry sent"):
                    tasks.run_job.run("job-id")
            finally:
                tasks.run_job.pop_request()
    assert asked == [1, 2, 4, 30]
