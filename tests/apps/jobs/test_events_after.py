"""events.after: the one read of "a job's events after seq N" that the WebSocket replay, the JSON
poll and the API's event stream share; the poll and the stream get 500 at a time, the WebSocket all."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.jobs import events
from apps.jobs.models import Job, JobEvent
from tests.apps.conftest import make_job

pytestmark = pytest.mark.django_db


def _job_with(owner: Any, count: int) -> Job:
    """A job with events 1..count (the first is make_job's "queued"), stored at once."""
    job = make_job(owner)
    JobEvent.objects.bulk_create(JobEvent(job=job, seq=seq, kind="log", data={"message": str(seq)})
                                 for seq in range(count, 1, -1))  # out of order: after() sorts
    Job.objects.filter(pk=job.pk).update(last_seq=count)
    return job


def test_it_gives_the_events_after_seq_in_order_as_messages(alice: Any) -> None:
    job = _job_with(alice, 5)
    got = events.after(job.pk, 2)
    assert [e["seq"] for e in got] == [3, 4, 5]
    assert got[0] == JobEvent.objects.get(job=job, seq=3).as_message()
    assert events.after(job.pk, 5) == []
    assert [e["seq"] for e in events.after(job.pk, 0, limit=2)] == [1, 2]


def test_the_json_poll_sends_500_at_a_time(alice: Any, alice_client: Client) -> None:
    job = _job_with(alice, 620)
    first = alice_client.get(f"/jobs/{job.pk}/events/").json()["events"]
    assert len(first) == events.REPLAY_LIMIT == 500 and first[-1]["seq"] == 500
    rest = alice_client.get(f"/jobs/{job.pk}/events/?after=500").json()["events"]
    assert [e["seq"] for e in rest] == list(range(501, 621))


def test_another_users_events_are_not_theirs_to_poll(alice: Any, bob_client: Client) -> None:
    job = _job_with(alice, 3)
    assert bob_client.get(f"/jobs/{job.pk}/events/").status_code == 404
