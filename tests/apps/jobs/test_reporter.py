"""JobReporter: throttled progress events, the final step always sent; cancellation checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from apps.jobs.models import Job, JobFile
from apps.jobs.reporter import JobReporter
from tests.apps.conftest import make_job

pytestmark = pytest.mark.django_db


def test_it_throttles_a_tight_loop_but_sends_the_final_step(alice: Any, settings: Any) -> None:
    settings.STUDIO_EVENTS_PER_SECOND = 4.0
    job = make_job(alice)
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
    job = make_job(alice)
    reporter = JobReporter(job)
    reporter.update(1, 10, "go", preview=Image.new("RGB", (8, 8)), metrics={"loss": 2})
    data = job.events.get(kind="progress").data
    assert data["metrics"] == {"loss": 2.0}
    preview = job.files.get(role=JobFile.Role.PREVIEW)
    assert data["preview"] == f"/jobs/{job.pk}/files/{preview.pk}/"
    assert preview.content_type == "image/jpeg" and preview.size > 0


def test_it_sees_a_cancel_request(alice: Any) -> None:
    job = make_job(alice)
    reporter = JobReporter(job, cancel_poll_seconds=0)
    assert reporter.cancelled() is False
    Job.objects.filter(pk=job.pk).update(cancel_requested_at=timezone.now())
    assert reporter.cancelled() is True
    Job.objects.filter(pk=job.pk).update(cancel_requested_at=None)
    assert reporter.cancelled() is True  # once cancelled, it stays so


def test_it_polls_the_database_at_most_every_interval(alice: Any,
                                                      django_assert_num_queries: Any) -> None:
    job = make_job(alice)
    reporter = JobReporter(job, cancel_poll_seconds=60)
    with django_assert_num_queries(1):
        for _ in range(100):
            reporter.cancelled()
