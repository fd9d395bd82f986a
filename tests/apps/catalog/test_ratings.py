"""Thumbs up or down on a result: the owner rates a succeeded job on its page and through the API
(and takes it back); nobody else can, nor can anyone rate a job that did not succeed; the endpoint's
admin page shows each variant's preference rate with its 95 % Wilson interval."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.api.models import ApiToken
from apps.catalog import services
from apps.catalog.models import Endpoint, Variant
from apps.catalog.variant_metrics import wilson
from apps.jobs.models import Job, JobState
from tests.apps.catalog.sentiment_versions import sentiment_version

pytestmark = pytest.mark.django_db


def finished(owner: Any, state: str = JobState.SUCCEEDED, variant: Variant | None = None) -> Job:
    return Job.objects.create(owner=owner, kind="sentiment", state=state, variant=variant,
                              result={"probability": 0.9})


def test_the_owner_rates_on_the_page_and_can_take_it_back(alice: Any, alice_client: Client) -> None:
    job = finished(alice)
    page = alice_client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="rate-up"' in page and 'aria-pressed="true"' not in page
    assert alice_client.post(f"/jobs/{job.pk}/rate/", {"rating": "up"}).status_code == 302
    job.refresh_from_db()
    assert job.rating == 1
    page = alice_client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'name="rating" value="none" id="rate-up" aria-pressed="true"' in page  # pressing again clears
    alice_client.post(f"/jobs/{job.pk}/rate/", {"rating": "none"})
    job.refresh_from_db()
    assert job.rating is None
    assert alice_client.post(f"/jobs/{job.pk}/rate/", {"rating": "5 stars"}).status_code == 400


def test_nobody_else_rates_and_only_succeeded_jobs_are_rated(alice: Any, alice_client: Client,
                                                              bob_client: Client) -> None:
    job, failed = finished(alice), finished(alice, JobState.FAILED)
    assert bob_client.post(f"/jobs/{job.pk}/rate/", {"rating": "down"}).status_code == 404
    response = alice_client.post(f"/jobs/{failed.pk}/rate/", {"rating": "up"}, follow=True)
    assert "Only a finished result can be rated; this job is failed." in response.content.decode()
    assert 'id="rate-up"' not in alice_client.get(f"/jobs/{failed.pk}/").content.decode()
    job.refresh_from_db()
    failed.refresh_from_db()
    assert job.rating is None and failed.rating is None


def test_the_api_rates_and_says_why_it_will_not(alice: Any, bob: Any) -> None:
    job, queued = finished(alice), finished(alice, JobState.QUEUED)
    client = Client(headers={"Authorization": f"Bearer {ApiToken.issue(alice, 'rate')[1]}"})
    response = client.post(f"/api/jobs/{job.pk}/rating", {"rating": "down"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["rating"] == "down"
    assert client.get(f"/api/jobs/{job.pk}").json()["rating"] == "down"
    response = client.post(f"/api/jobs/{queued.pk}/rating", {"rating": "up"}, content_type="application/json")
    assert response.status_code == 400 and "this job is queued" in response.json()["detail"]
    assert client.post(f"/api/jobs/{job.pk}/rating", {"rating": "meh"},
                       content_type="application/json").status_code == 422
    other = Client(headers={"Authorization": f"Bearer {ApiToken.issue(bob, 'rate')[1]}"})
    assert other.post(f"/api/jobs/{job.pk}/rating", {"rating": "up"},
                      content_type="application/json").status_code == 404
    job.refresh_from_db()
    assert job.rating == -1


def test_the_wilson_interval_stays_inside_0_and_1() -> None:
    low, high = wilson(8, 10) or (0, 0)
    assert round(low, 3) == 0.49 and round(high, 3) == 0.943
    assert wilson(0, 0) is None
    assert wilson(3, 3) is not None and (wilson(3, 3) or (0, 0))[1] == 1.0
    assert (wilson(0, 5) or (1, 1))[0] == 0.0


def test_the_endpoint_page_shows_each_variants_preference(alice: Any, admin_client: Client) -> None:
    version = sentiment_version("gentle", 1.0)
    services.activate(version)
    endpoint = Endpoint.objects.create(family="sentiment")
    a = Variant.objects.create(endpoint=endpoint, name="A", version=version, weight=1, control=True)
    for rating in [1] * 8 + [-1] * 2 + [None] * 3:
        job = finished(alice, variant=a)
        Job.objects.filter(pk=job.pk).update(rating=rating)
    page = admin_client.get(f"/admin/catalog/endpoint/{endpoint.pk}/change/").content.decode()
    assert '<td class="ratings">8 / 2</td>' in page
    assert '<td class="preference">80 % (49–94 %)</td>' in page
