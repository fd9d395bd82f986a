"""Real-path tests share one worker across tests: let it finish before the database is flushed."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from apps.jobs.models import Job, JobState


@pytest.fixture(autouse=True)
def worker_settled(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that runs the stack's worker, wait (briefly) until no job is queued or
    running. Otherwise the worker may still write a job's events while the transactional test's
    TRUNCATE runs, and PostgreSQL picks one of the two as a deadlock victim."""
    yield
    if "stack" not in request.fixturenames:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not Job.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING]).exists():
            return
        time.sleep(0.1)
