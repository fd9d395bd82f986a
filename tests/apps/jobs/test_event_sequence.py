"""Every job's events are numbered 1..N without gaps, whichever function wrote them."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.jobs import events
from apps.jobs.models import JobState
from tests.apps.conftest import make_job

pytestmark = pytest.mark.django_db


def test_it_numbers_events_without_gaps(alice: Any) -> None:
    job = make_job(alice)
    events.transition(job, JobState.RUNNING, "Starting")
    for step in range(1, 4):
        events.record(job, "progress", {"step": step, "total": 3}, step=step, total=3)
    events.record(job, "log", {"message": "hello"})
    assert events.transition(job, JobState.QUEUED, "again") is True
    assert events.transition(job, JobState.SUCCEEDED, "Done") is False  # illegal: no seq used
    events.transition(job, JobState.RUNNING, "Starting")
    events.transition(job, JobState.SUCCEEDED, "Done")
    seqs = list(job.events.values_list("seq", flat=True))
    assert seqs == list(range(1, 10))
    job.refresh_from_db()
    assert job.last_seq == 9 and job.step == 3 and job.total == 3


def test_it_keeps_the_in_memory_job_in_step(alice: Any) -> None:
    job = make_job(alice)
    event = events.record(job, "progress", {"step": 1}, step=1, total=5, message="one")
    assert (job.last_seq, job.step, job.total, job.message) == (2, 1, 5, "one")
    assert event.as_message()["seq"] == 2


def test_it_pushes_each_event_to_the_jobs_group(alice: Any) -> None:
    job = make_job(alice)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(job.group_name, channel)
    events.record(job, "log", {"message": "hi"})
    message = async_to_sync(layer.receive)(channel)
    assert message["type"] == "job.event"
    assert message["event"]["seq"] == 2 and message["event"]["data"] == {"message": "hi"}


def test_it_stores_the_event_when_the_push_fails(alice: Any, settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}}
    job = make_job(alice)
    events.record(job, "log", {"message": "Redis is down"})
    stored = list(job.events.values_list("seq", "kind", "data"))
    assert stored[-1] == (2, "log", {"message": "Redis is down"}) and len(stored) == 2
    job.refresh_from_db()
    assert job.last_seq == 2
