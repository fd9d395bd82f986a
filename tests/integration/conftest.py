"""Real-path tests share one worker across tests: let it finish before the database is flushed.
``s3_server``: a real S3 server (SeaweedFS, tests/s3_server.py) for the session."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from apps.jobs.models import Job, JobState
from tests.conftest import unavailable
from tests.s3_server import S3Server, S3Unavailable, start_s3_server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS answering S3 on free ports, with an empty bucket "studio" that only its own
    credentials (``server.env()``) may use; give each test module a key prefix of its own
    (``server.env(prefix)``). Without the weed binary: a skip, and under CI a failure."""
    try:
        server = start_s3_server(tmp_path_factory.mktemp("s3"))
    except S3Unavailable as exc:
        unavailable(str(exc))
    yield server
    server.stop()


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
