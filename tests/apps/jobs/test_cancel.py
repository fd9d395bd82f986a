"""services.request_cancel and the cancel view."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.jobs import services
from apps.jobs.models import JobState
from tests.apps.conftest import make_job

pytestmark = pytest.mark.django_db


def test_it_cancels_a_queued_job_at_once(alice: Any, revoke: Any) -> None:
    job = make_job(alice, task_id="t-42")
    services.request_cancel(job)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    assert job.cancel_requested_at is not None and job.finished_at is not None
    assert job.events.last().data["state"] == "cancelled"  # type: ignore[union-attr]
    revoke.assert_called_once_with("t-42")


def test_it_asks_a_running_job_to_stop(alice: Any, revoke: Any) -> None:
    job = make_job(alice, state=JobState.RUNNING)
    services.request_cancel(job)
    job.refresh_from_db()
    assert job.state == JobState.RUNNING  # the worker stops it at its next progress check
    assert job.cancel_requested_at is not None
    assert job.events.last().data == {"message": "Cancel requested"}  # type: ignore[union-attr]
    revoke.assert_not_called()


def test_it_ignores_a_finished_job(alice: Any) -> None:
    job = make_job(alice, state=JobState.SUCCEEDED)
    services.request_cancel(job)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.cancel_requested_at is None
    assert job.last_seq == 1


def test_it_keeps_the_first_request_time(alice: Any) -> None:
    job = make_job(alice, state=JobState.RUNNING)
    services.request_cancel(job)
    first = job.cancel_requested_at
    services.request_cancel(job)
    job.refresh_from_db()
    assert job.cancel_requested_at == first


def test_the_view_redirects_to_the_job(alice: Any, alice_client: Client) -> None:
    job = make_job(alice)
    response = alice_client.post(f"/jobs/{job.pk}/cancel/")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED


def test_the_view_answers_json_when_asked(alice: Any, alice_client: Client) -> None:
    job = make_job(alice)
    response = alice_client.post(f"/jobs/{job.pk}/cancel/", headers={"accept": "application/json"})
    assert response.status_code == 200
    assert response.json()["job"]["state"] == "cancelled"


def test_the_view_refuses_get(alice: Any, alice_client: Client) -> None:
    job = make_job(alice)
    assert alice_client.get(f"/jobs/{job.pk}/cancel/").status_code == 405
    job.refresh_from_db()
    assert job.state == JobState.QUEUED
