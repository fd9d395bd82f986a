"""One user's jobs are invisible to another: 404 (not 403) everywhere, and no side effects."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.jobs.models import JobFile
from tests.apps.conftest import make_job
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db


def test_it_hides_the_job_page(bob_client: Client, alice_client: Client, job_with_files: Any) -> None:
    job, files = job_with_files
    mine = alice_client.get(f"/jobs/{job.pk}/")
    assert mine.status_code == 200 and f"/jobs/{job.pk}/files/{files['result'].pk}/" in mine.content.decode()
    assert bob_client.get(f"/jobs/{job.pk}/").status_code == 404


def test_it_hides_the_events_json(bob_client: Client, alice_client: Client,
                                  job_with_files: Any) -> None:
    job, _ = job_with_files
    mine = alice_client.get(f"/jobs/{job.pk}/events/")
    assert mine.status_code == 200 and mine.json()["job"]["id"] == str(job.pk)
    assert bob_client.get(f"/jobs/{job.pk}/events/").status_code == 404


@pytest.mark.parametrize("role", JobFile.Role.values)
def test_it_hides_the_files(bob_client: Client, alice_client: Client, job_with_files: Any,
                            role: str) -> None:
    job, files = job_with_files
    url = f"/jobs/{job.pk}/files/{files[role].pk}/"
    mine = alice_client.get(url)
    assert mine.status_code == 200 and b"".join(mine.streaming_content) == png_bytes()
    assert bob_client.get(url).status_code == 404
    assert bob_client.get(url + "?download=1").status_code == 404


def test_it_hides_a_file_behind_another_users_job_id(bob: Any, bob_client: Client,
                                                     job_with_files: Any) -> None:
    # Bob's own job id with Alice's file id: the file must belong to the job in the URL.
    _, files = job_with_files
    own = make_job(bob)
    assert bob_client.get(f"/jobs/{own.pk}/files/{files['result'].pk}/").status_code == 404


def test_it_refuses_to_cancel_and_leaves_the_job_alone(bob_client: Client,
                                                      job_with_files: Any) -> None:
    job, _ = job_with_files
    assert bob_client.post(f"/jobs/{job.pk}/cancel/").status_code == 404
    job.refresh_from_db()
    assert job.state == "queued"
    assert job.cancel_requested_at is None
    assert job.last_seq == 1


def test_it_lists_only_your_own_jobs_in_history(alice: Any, bob: Any, alice_client: Client) -> None:
    mine = [make_job(alice) for _ in range(2)]
    theirs = make_job(bob)
    page = alice_client.get("/jobs/").content.decode()
    for job in mine:
        assert f"/jobs/{job.pk}/" in page
    assert f"/jobs/{theirs.pk}/" not in page


def test_it_lists_only_your_own_jobs_on_home(alice: Any, bob: Any, bob_client: Client) -> None:
    theirs, mine = make_job(alice), make_job(bob)
    page = bob_client.get("/").content.decode()
    assert f"/jobs/{mine.pk}/" in page
    assert f"/jobs/{theirs.pk}/" not in page
