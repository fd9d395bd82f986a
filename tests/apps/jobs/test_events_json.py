"""The JSON poll: the job's snapshot and its events after a sequence number."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.jobs import events
from tests.apps.conftest import make_job

pytestmark = pytest.mark.django_db


def test_it_returns_events_after_the_given_seq(alice: Any, alice_client: Client) -> None:
    job = make_job(alice)
    for step in (1, 2, 3):
        events.record(job, "progress", {"step": step}, step=step, total=3)
    body = alice_client.get(f"/jobs/{job.pk}/events/?after=2").json()
    assert [e["seq"] for e in body["events"]] == [3, 4]
    assert body["job"]["last_seq"] == 4 and body["job"]["step"] == 3


@pytest.mark.parametrize("after", ["", "abc", "-5", "1.5"])
def test_it_treats_a_bad_after_as_zero(alice: Any, alice_client: Client, after: str) -> None:
    job = make_job(alice)
    response = alice_client.get(f"/jobs/{job.pk}/events/?after={after}")
    assert response.status_code == 200
    assert [e["seq"] for e in response.json()["events"]] == [1]
