"""Load through the API on the real path: 20 clients submit 500 jobs concurrently to daphne with
their tokens; the real Celery worker runs them. Every job reaches a terminal state, none is lost
or run twice, every job's events are numbered 1..n without gaps, and the event streams the clients
read while the jobs ran came in order."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from apps.api.models import ApiToken
from apps.jobs.models import Job, JobEvent
from tests.integration.helpers import read_sse

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CLIENTS, JOBS_PER_CLIENT, USERS = 20, 25, 4


def call(base: str, token: str, path: str, data: dict[str, str] | None = None) -> Any:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(base + path, data=body, headers={"Authorization": f"Bearer {token}"})
    return urllib.request.urlopen(req, timeout=120)


def client(base: str, token: str) -> tuple[list[str], list[int]]:
    """Submit this client's jobs one after another, then read the stream of its last one."""
    ids = []
    for _ in range(JOBS_PER_CLIENT):
        with call(base, token, "/api/tools/sleep/jobs",
                  {"params": json.dumps({"steps": 1, "step_seconds": 0})}) as response:
            assert response.status == 201
            ids.append(json.loads(response.read())["id"])
    with call(base, token, f"/api/jobs/{ids[-1]}/events") as stream:
        seen = [event[0] for event in read_sse(stream)]
    return ids, seen


def test_500_jobs_from_20_clients_all_finish_once_with_ordered_events(stack: Any) -> None:
    make = get_user_model().objects.create_user
    users = [make(f"load-{i}", password="pw-for-tests-1") for i in range(USERS)]
    tokens = [ApiToken.issue(users[i % USERS], f"client {i}")[1] for i in range(CLIENTS)]
    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda token: client(stack.base_url, token), tokens))
    submitted = [job_id for ids, _ in results for job_id in ids]
    assert len(submitted) == len(set(submitted)) == CLIENTS * JOBS_PER_CLIENT
    for _, seen in results:  # each stream: every event once, in order
        assert seen == list(range(1, len(seen) + 1)) and len(seen) >= 4, seen

    deadline = time.monotonic() + 300
    while Job.objects.exclude(state__in=["succeeded", "failed", "cancelled"]).exists():
        assert time.monotonic() < deadline, Counter(Job.objects.values_list("state", flat=True))
        time.sleep(1)
    elapsed = time.monotonic() - started

    jobs = {str(j.pk): j for j in Job.objects.all()}
    assert set(jobs) == set(submitted)  # none lost, none extra
    assert Counter(j.state for j in jobs.values()) == {"succeeded": CLIENTS * JOBS_PER_CLIENT}
    for job_id, job in jobs.items():
        rows = JobEvent.objects.filter(job_id=job_id).order_by("seq")
        events = list(rows.values_list("seq", "kind", "data"))
        assert [seq for seq, _, _ in events] == list(range(1, job.last_seq + 1)), job_id
        states = [data["state"] for _, kind, data in events if kind == "state"]
        assert states == ["queued", "running", "succeeded"], (job_id, states)  # run once
    for i, user in enumerate(users):  # each user sees exactly their own jobs
        listed = json.loads(call(stack.base_url, tokens[i], "/api/jobs?limit=200").read())
        assert listed["count"] == Job.objects.filter(owner=user).count() == CLIENTS // USERS * JOBS_PER_CLIENT
    print(f"500 jobs through the API in {elapsed:.1f} s")
