"""The cancel watchdog keeps watching through a database error: a poll that fails (SQLite busy,
PostgreSQL restarting) is asked again at the next poll, not the end of the thread."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone

from apps.jobs import watchdog
from apps.jobs.models import Job, JobState
from tests.apps.conftest import make_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_failed_poll_is_asked_again_and_the_cancel_still_enforced(alice: Any, settings: Any) -> None:
    settings.STUDIO_CANCEL_GRACE_SECONDS = 0
    job = make_job(alice, state=JobState.RUNNING)
    Job.objects.filter(pk=job.pk).update(cancel_requested_at=timezone.now())
    query = Job.objects.filter
    failures = iter([OperationalError("database is locked")])

    def flaky(*args: Any, **kwargs: Any) -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return query(*args, **kwargs)

    killed: list[int] = []
    with mock.patch.object(Job.objects, "filter", flaky), \
            mock.patch.object(watchdog.os, "kill", lambda pid, sig: killed.append(pid)):
        with watchdog.JobWatchdog(job, poll_seconds=0.05):
            deadline = time.monotonic() + 5
            while not killed and time.monotonic() < deadline:
                time.sleep(0.05)
    job.refresh_from_db()
    assert killed, "the watchdog stopped watching after the failed poll"
    assert job.state == JobState.CANCELLED and "did not stop within 0s" in job.message
