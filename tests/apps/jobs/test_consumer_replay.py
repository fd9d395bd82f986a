"""JobConsumer replays what the client missed from the DB, then forwards live events."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.jobs import events
from apps.jobs.models import Job
from tests.apps.conftest import make_job
from tests.apps.jobs.websocket import on_socket

# Committed for real: the consumer closes "old" DB connections, which breaks a wrapped test.
pytestmark = pytest.mark.django_db(transaction=True)


def _job_with_events(owner: Any, count: int) -> Job:
    job = make_job(owner)  # seq 1
    for step in range(1, count):
        events.record(job, "progress", {"step": step, "total": count}, step=step, total=count)
    assert job.last_seq == count
    return job


async def _receive_seqs(comm: WebsocketCommunicator, count: int) -> list[int]:
    return [(await comm.receive_json_from(timeout=2))["seq"] for _ in range(count)]


def test_it_replays_after_n_then_forwards_live_events(alice: Any, alice_client: Client) -> None:
    job = _job_with_events(alice, 6)

    async def scenario(comm: WebsocketCommunicator) -> None:
        assert await _receive_seqs(comm, 3) == [4, 5, 6]
        assert await comm.receive_nothing(timeout=0.2)
        await database_sync_to_async(events.record)(job, "log", {"message": "live"})
        live = await comm.receive_json_from(timeout=2)
        assert live["seq"] == 7 and live["kind"] == "log"
        assert live["data"] == {"message": "live"}
        assert await comm.receive_nothing(timeout=0.2)

    on_socket(job.pk, alice_client, scenario, after=3)


def test_it_replays_everything_without_after(alice: Any, alice_client: Client) -> None:
    job = _job_with_events(alice, 4)

    async def scenario(comm: WebsocketCommunicator) -> None:
        replayed = [await comm.receive_json_from(timeout=2) for _ in range(4)]
        assert [e["seq"] for e in replayed] == [1, 2, 3, 4]
        first, last = replayed[0], replayed[-1]
        assert (first["kind"], first["data"]) == ("state", {"state": "queued", "message": "Queued"})
        assert (last["kind"], last["data"]) == ("progress", {"step": 3, "total": 4})
        assert await comm.receive_nothing(timeout=0.2)

    on_socket(job.pk, alice_client, scenario)


def test_it_sends_nothing_when_the_client_is_up_to_date(alice: Any, alice_client: Client) -> None:
    job = _job_with_events(alice, 3)

    async def scenario(comm: WebsocketCommunicator) -> None:
        assert await comm.receive_nothing(timeout=0.2)

    on_socket(job.pk, alice_client, scenario, after=3)


def test_it_drops_a_live_event_it_already_replayed(alice: Any, alice_client: Client) -> None:
    # The consumer joins the group before replaying, so one event can arrive twice.
    job = _job_with_events(alice, 3)

    async def scenario(comm: WebsocketCommunicator) -> None:
        assert await _receive_seqs(comm, 2) == [2, 3]
        duplicate = await database_sync_to_async(lambda: job.events.get(seq=3).as_message())()
        await get_channel_layer().group_send(job.group_name, {"type": "job.event", "event": duplicate})
        assert await comm.receive_nothing(timeout=0.2)

    on_socket(job.pk, alice_client, scenario, after=1)


def test_it_replays_on_request_from_the_client(alice: Any, alice_client: Client) -> None:
    job = _job_with_events(alice, 3)

    async def scenario(comm: WebsocketCommunicator) -> None:
        await comm.send_json_to({"after": 1})
        assert await _receive_seqs(comm, 2) == [2, 3]
        assert await comm.receive_nothing(timeout=0.2)

    on_socket(job.pk, alice_client, scenario, after=3)


def test_it_fills_a_gap_in_the_pushes_from_the_database(alice: Any, alice_client: Client,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Pub/sub delivers at most once: a push lost (a Redis restart) shows as a gap at the next one.
    job = _job_with_events(alice, 3)

    async def scenario(comm: WebsocketCommunicator) -> None:
        with monkeypatch.context() as lost:
            lost.setattr(events, "broadcast", lambda *args: None)
            await database_sync_to_async(events.record)(job, "log", {"message": "never pushed"})
        assert await comm.receive_nothing(timeout=0.2)
        await database_sync_to_async(events.record)(job, "log", {"message": "pushed"})
        assert await _receive_seqs(comm, 2) == [4, 5]
        assert await comm.receive_nothing(timeout=0.2)

    on_socket(job.pk, alice_client, scenario, after=3)
