"""Everything except logging in and signing up needs an account."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.jobs.models import Job, JobFile

pytestmark = pytest.mark.django_db


def _pages(job: Job, files: dict[str, JobFile]) -> list[str]:
    return ["/", "/tools/style/", "/tools/sleep/", "/jobs/", f"/jobs/{job.pk}/",
            f"/jobs/{job.pk}/events/", f"/jobs/{job.pk}/files/{files['result'].pk}/"]


def test_it_redirects_anonymous_users_to_login(client: Client, job_with_files: Any) -> None:
    job, files = job_with_files
    for url in _pages(job, files):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


def test_it_redirects_anonymous_submits_and_creates_no_job(client: Client) -> None:
    response = client.post("/tools/sleep/", {"steps": 1, "step_seconds": 0})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Job.objects.count() == 0


def test_it_redirects_anonymous_cancel_and_leaves_the_job_alone(client: Client,
                                                               job_with_files: Any) -> None:
    job, _ = job_with_files
    response = client.post(f"/jobs/{job.pk}/cancel/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    job.refresh_from_db()
    assert job.state == "queued" and job.cancel_requested_at is None


def test_it_serves_login_and_signup_to_anonymous_users(client: Client) -> None:
    login = client.get("/accounts/login/")
    assert login.status_code == 200
    assert 'name="username"' in login.content.decode() and 'name="password"' in login.content.decode()
    signup = client.get("/accounts/signup/")
    assert signup.status_code == 200
    assert 'name="password1"' in signup.content.decode() and 'name="password2"' in signup.content.decode()
