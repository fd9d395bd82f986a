"""apps.jobs.runner.run, called directly (no Celery) with the diagnostics sleep tool."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from apps.jobs import runner
from apps.jobs.models import Job, JobFile, JobState
from tests.apps.conftest import make_job, run_job

pytestmark = pytest.mark.django_db


def _states(job: Job) -> list[str]:
    return [e.data["state"] for e in job.events.filter(kind="state")]


def _sleep_job(owner: Any, **params: Any) -> Job:
    return make_job(owner, params={"steps": 3, "step_seconds": 0, **params}, task_id="t-1")


def _redelivered(owner: Any, attempts: int) -> Job:
    """A job a lost worker left "running" after ``attempts`` tries, once the broker has handed its
    message to another worker."""
    job = _sleep_job(owner)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, attempts=attempts, worker="dead")
    return run_job(job, worker="worker-b")


def test_it_runs_a_sleep_job_to_success(alice: Any) -> None:
    job = run_job(_sleep_job(alice))
    assert job.state == JobState.SUCCEEDED
    assert (job.step, job.total, job.attempts, job.worker) == (3, 3, 1, "worker-a")
    assert job.result == {"steps": 3}
    assert job.started_at is not None and job.finished_at is not None
    assert _states(job) == ["queued", "running", "succeeded"]
    result = job.files.get(role=JobFile.Role.RESULT)
    assert (result.name, result.content_type) == ("sleep.txt", "text/plain")
    with result.file.open("rb") as fh:
        assert fh.read() == b"slept 3 steps\n"
    assert list(job.events.values_list("seq", flat=True)) == list(range(1, job.last_seq + 1))


def test_it_fails_with_the_tools_message(alice: Any) -> None:
    job = run_job(_sleep_job(alice, fail=True))
    assert job.state == JobState.FAILED
    assert job.error == "Asked to fail."
    assert job.events.last().data["error"] == "Asked to fail."  # type: ignore[union-attr]
    assert not job.files.filter(role=JobFile.Role.RESULT).exists()


def test_it_cancels_without_running_when_asked_before_start(alice: Any) -> None:
    job = _sleep_job(alice)
    Job.objects.filter(pk=job.pk).update(cancel_requested_at=timezone.now())
    run_job(job)
    assert job.state == JobState.CANCELLED
    assert job.started_at is None and job.attempts == 0 and job.step == 0
    assert _states(job) == ["queued", "cancelled"]
    assert not job.events.filter(kind="progress").exists()


def test_it_fails_a_redelivered_job_that_used_its_attempts(alice: Any, settings: Any) -> None:
    settings.STUDIO_MAX_ATTEMPTS = 2
    job = _redelivered(alice, attempts=2)
    assert job.state == JobState.FAILED
    assert job.message == "Failed: the worker was lost"
    assert job.error == "The worker running this job died 2 times."
    assert job.attempts == 2 and job.step == 0
    assert not job.files.exists()


def test_it_reruns_a_redelivered_job_with_attempts_left(alice: Any, settings: Any) -> None:
    settings.STUDIO_MAX_ATTEMPTS = 2
    job = _redelivered(alice, attempts=1)
    assert job.state == JobState.SUCCEEDED
    assert (job.attempts, job.worker) == (2, "worker-b")
    assert _states(job) == ["queued", "queued", "running", "succeeded"]


def test_it_ignores_a_stale_task_id(alice: Any) -> None:
    job = _sleep_job(alice)
    runner.run(str(job.pk), "t-old", "worker-a")
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.last_seq == 1 and job.attempts == 0


def test_it_ignores_a_finished_job(alice: Any) -> None:
    job = _sleep_job(alice)
    Job.objects.filter(pk=job.pk).update(state=JobState.CANCELLED)
    run_job(job)
    assert job.state == JobState.CANCELLED and job.last_seq == 1 and job.attempts == 0


def test_it_ignores_a_deleted_job(alice: Any) -> None:
    job = _sleep_job(alice)
    job_id = str(job.pk)
    job.delete()
    runner.run(job_id, "t-1", "worker-a")  # no exception, nothing to do
    assert not Job.objects.filter(pk=job_id).exists()


def test_it_fails_a_job_for_an_unknown_tool(alice: Any) -> None:
    job = run_job(make_job(alice, kind="gone"))
    assert job.state == JobState.FAILED and job.error == "Unknown tool 'gone'."


def test_requeue_waiting_resends_queued_jobs_under_fresh_task_ids(alice: Any, apply_async: Any) -> None:
    from apps.jobs import services

    waiting = Job.objects.create(owner=alice, kind="sleep", params={}, task_id="old")
    Job.objects.create(owner=alice, kind="sleep", params={}, state="succeeded", task_id="done")
    assert services.requeue_waiting() == 1
    waiting.refresh_from_db()
    assert waiting.task_id != "old"
    apply_async.assert_called_once_with(args=[str(waiting.pk)], queue="cpu", task_id=waiting.task_id)


def test_results_that_cannot_be_stored_fail_the_job_with_a_message(alice: Any) -> None:
    """Storage refusing the results (a full disk, S3 away) ends the job failed, with no result rows,
    instead of leaving it running."""
    from unittest import mock

    from django.core.files.storage import FileSystemStorage

    with mock.patch.object(FileSystemStorage, "_save", side_effect=OSError(28, "No space left on device")):
        job = run_job(_sleep_job(alice))
    assert (job.state, job.message) == (JobState.FAILED, "Failed")
    assert job.error == ("The results could not be stored (OSError: [Errno 28] No space left on device); "
                         "see the worker log, then run it again.")
    assert not job.files.filter(role=JobFile.Role.RESULT).exists()
    assert _states(job) == ["queued", "running", "failed"]
