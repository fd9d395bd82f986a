"""Many pages on one job (issue 17): 100 real WebSockets on the stack's daphne, each one signed in,
get every progress event a worker writes, none closed, at most a loose spread apart. The bench
(bench/fanout.py, 300 watchers within 50 ms p95) holds the tight figure; on two shared cores a test
can only check that the fan-out is not queued per socket (seconds, before the fix)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from apps.jobs import events
from apps.jobs.models import Job, JobState
from bench.fanout import one_round
from tests.conftest import Stack
from tests.integration.helpers import logged_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WATCHERS, EVENTS = 100, 15


def test_every_watcher_of_a_job_gets_every_event(stack: Stack) -> None:
    user, client = logged_in("crowd")
    # Running attempt 1 with a fresh heartbeat: the stack worker's sweep leaves it alone for 30 s.
    now = timezone.now()
    job = Job.objects.create(owner=user, kind="sleep", params={"steps": EVENTS, "step_seconds": 0},
                             state=JobState.RUNNING, attempts=1, started_at=now, heartbeat_at=now)
    cookie = client.cookies["sessionid"].value
    try:
        seen = asyncio.run(one_round(stack.base_url.removeprefix("http://"), cookie, job, WATCHERS,
                                     EVENTS, 0.05))
    finally:
        # one_round wrote the events from sync_to_async's thread: its connection would hold the
        # test database open past the run.
        asyncio.run(sync_to_async(connections.close_all, thread_sensitive=True)())
        events.transition(job, JobState.SUCCEEDED, "done", attempt=1)  # worker_settled waits for it
    assert (seen.lost, seen.closed) == (0, 0)
    assert len(seen.spreads) == EVENTS
    assert sorted(seen.spreads)[EVENTS // 2] < 1.0, seen.spreads  # the median; about 10 ms here
