"""Who may open a job's WebSocket: its owner, from an allowed Origin, and nobody else."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from tests.apps.conftest import make_job
from tests.apps.jobs.websocket import communicator

# Committed for real: the consumer closes "old" DB connections, which breaks a wrapped test.
pytestmark = pytest.mark.django_db(transaction=True)


async def _connect(comm: Any) -> tuple[bool, Any]:
    try:
        return await comm.connect(timeout=5)
    finally:
        await comm.disconnect()


def test_it_accepts_the_owner(alice: Any, alice_client: Client) -> None:
    job = make_job(alice)
    assert async_to_sync(_connect)(communicator(job.pk, alice_client)) == (True, None)


def test_it_closes_with_4403_for_another_users_job(alice: Any, bob_client: Client) -> None:
    job = make_job(alice)
    assert async_to_sync(_connect)(communicator(job.pk, bob_client)) == (False, 4403)


def test_it_closes_with_4403_for_anonymous_users(alice: Any) -> None:
    job = make_job(alice)
    assert async_to_sync(_connect)(communicator(job.pk)) == (False, 4403)


def test_it_closes_with_4403_for_a_job_that_does_not_exist(alice_client: Client) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert async_to_sync(_connect)(communicator(missing, alice_client)) == (False, 4403)


@pytest.mark.parametrize("origin", [b"http://evil.example", b"null", None])
def test_it_refuses_the_handshake_for_a_bad_origin(alice: Any, alice_client: Client,
                                                   origin: bytes | None) -> None:
    job = make_job(alice)
    # Refused by the origin check in front of the consumer (the consumer's own refusals close 4403).
    assert async_to_sync(_connect)(communicator(job.pk, alice_client, origin=origin)) == (False, 1000)
