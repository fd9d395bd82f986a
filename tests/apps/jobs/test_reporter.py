"""JobReporter: throttled progress events, the final step always sent; cancellation checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from apps.jobs import events
from apps.jobs.models import Job, JobFile, JobState
from apps.jobs.reporter import JobReporter
from tests.apps.conftest import make_job

pytestmark = pytest.mark.django_db


def running_job(owner: Any) -> Job:
    """A job a worker has just started (its first attempt), as the runner hands it to the reporter."""
    return make_job(owner, state=JobState.RUNNING, attempts=1)


def test_it_throttles_a_tight_loop_but_sends_the_final_step(alice: Any, settings: Any) -> None:
    settings.STUDIO_EVENTS_PER_SECOND = 4.0
    job = running_job(alice)
    reporter = JobReporter(job)
    for step in range(1, 501):
        reporter.update(step, 500, f"step {step}")
    progress = [e.data for e in job.events.filter(kind="progress")]
    assert 2 <= len(progress) <= 5  # the first, maybe a few on a slow machine, and the last
    assert progress[0]["step"] == 1
    assert progress[-1] == {"step": 500, "total": 500, "message": "step 500"}
    job.refresh_from_db()
    assert (job.step, job.total) == (500, 500)


def test_it_sends_metrics_and_saves_previews(alice: Any) -> None:
    job = running_job(alice)
    reporter = JobReporter(job)
    reporter.update(1, 10, "go", preview=Image.new("RGB", (8, 8)), metrics={"loss": 2})
    data = job.events.get(kind="progress").data
    assert data["metrics"] == {"loss": 2.0}
    preview = job.files.get(role=JobFile.Role.PREVIEW)
    assert data["preview"] == f"/jobs/{job.pk}/files/{preview.pk}/"
    assert preview.content_type == "image/jpeg" and preview.size > 0


def test_it_sees_a_cancel_request(alice: Any) -> None:
    job = running_job(alice)
    reporter = JobReporter(job, cancel_poll_seconds=0)
    assert reporter.cancelled() is False
    Job.objects.filter(pk=job.pk).update(cancel_requested_at=timezone.now())
    assert reporter.cancelled() is True
    Job.objects.filter(pk=job.pk).update(cancel_requested_at=None)
    assert reporter.cancelled() is True  # once cancelled, it stays so


def test_it_polls_the_database_at_most_every_interval(alice: Any,
                                                      django_assert_num_queries: Any) -> None:
    job = running_job(alice)
    reporter = JobReporter(job, cancel_poll_seconds=60)
    with django_assert_num_queries(1):
        for _ in range(100):
            reporter.cancelled()


def test_a_superseded_attempt_writes_nothing_and_stops(alice: Any) -> None:
    """Once the sweep has taken the job back (queued again, or running a later attempt), the old
    attempt's reports are refused, its preview rolled back with the event, and its tool told to stop."""
    job = running_job(alice)
    reporter = JobReporter(job, cancel_poll_seconds=0)
    reporter.update(1, 10, "first")
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, attempts=2)  # another worker's now
    before = job.events.count()
    with pytest.raises(events.Superseded):
        reporter.update(10, 10, "late", preview=Image.new("RGB", (8, 8)))
    with pytest.raises(events.Superseded):
        reporter.log("late line")
    assert job.events.count() == before and not job.files.filter(role=JobFile.Role.PREVIEW).exists()
    assert reporter.cancelled() is True
    job.refresh_from_db()
    assert (job.step, job.message) == (1, "first")
