"""Endpoints with production variants (A/B): 1,000 routings of an endpoint at 70/30 split within
statistical tolerance, and jobs submitted through the API follow them; sticky routing keeps a user
on one variant; each job records its variant and runs on that variant's version, not the active
one; promoting a variant in the admin sends it all the traffic; the figures per variant appear side
by side in the admin."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from unittest import mock

import pytest
from django.test import Client

from apps.api.api import api as ninja_api
from apps.api.models import ApiToken
from apps.catalog import routing, services
from apps.catalog.models import Endpoint, ModelVersion, Variant
from apps.jobs import runner
from apps.jobs.models import Job, JobState
from apps.serving import stats
from tests.apps.catalog.sentiment_versions import sentiment_version

pytestmark = pytest.mark.django_db

N = 1000
# 70/30 over 1,000 requests: the count of A is binomial(1000, 0.7), sd 14.5; 4.5 sd either side
# leaves a false alarm about once in 150,000 runs.
LOW, HIGH = 700 - 65, 700 + 65
# Through the API (6 ms a request here): 100 jobs, A's count binomial(100, 0.7), sd 4.6; 70 +- 21.
API_N, API_LOW, API_HIGH = 100, 70 - 21, 70 + 21


@pytest.fixture
def ab() -> tuple[Endpoint, Variant, Variant]:
    a, b = sentiment_version("gentle", 1.0), sentiment_version("bold", 4.0)
    services.activate(a)
    endpoint = Endpoint.objects.create(family="sentiment", sticky=False)
    return endpoint, Variant.objects.create(endpoint=endpoint, name="A", version=a, weight=70), \
        Variant.objects.create(endpoint=endpoint, name="B", version=b, weight=30)


def test_1000_requests_split_70_30(alice: Any, ab: tuple[Endpoint, Variant, Variant]) -> None:
    split = Counter(getattr(routing.choose("sentiment", alice.pk), "name", None) for _ in range(N))
    assert LOW <= split["A"] <= HIGH and split["A"] + split["B"] == N, split
    print(f"70/30 endpoint: {split['A']} to A, {split['B']} to B of {N} requests")


def test_api_jobs_follow_the_split_then_promotion_takes_all(alice: Any, admin_client: Any, settings: Any,
                                                            ab: tuple[Endpoint, Variant, Variant]) -> None:
    endpoint, a, b = ab
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 10 * API_N
    client = Client(headers={"Authorization": f"Bearer {ApiToken.issue(alice, 'ab')[1]}"})
    params = {"params": json.dumps({"text": "a good film"})}
    with mock.patch.object(ninja_api.throttle, "num_requests", 10 * API_N):
        assert all(client.post("/api/tools/sentiment/jobs", params).status_code == 201 for _ in range(API_N))
        split = Counter(Job.objects.values_list("variant__name", flat=True))
        assert API_LOW <= split["A"] <= API_HIGH and split["A"] + split["B"] == API_N, split

        # Each job runs on its variant's version (B is not the active version).
        for variant in (a, b):
            job = Job.objects.filter(variant=variant).first()
            assert job is not None
            runner.run(str(job.pk), job.task_id, "worker-a")
            job.refresh_from_db()
            assert job.state == JobState.SUCCEEDED and job.model == variant.version, job.error
        # Same text, two versions: the bolder weights give a surer score.
        scores = {j.variant.name: j.result["probability"] for j in Job.objects.filter(state="succeeded")}
        assert scores["B"] > scores["A"] > 0.5

        promote = {"action": "promote", "_selected_action": [b.pk]}
        response = admin_client.post("/admin/catalog/variant/", promote)
        assert response.status_code == 302
        messages = [str(m) for m in admin_client.get("/admin/catalog/variant/").context["messages"]]
        assert any("now takes all of the endpoint's traffic" in m for m in messages), messages
        a.refresh_from_db()
        b.version.refresh_from_db()
        assert a.weight == 0 and b.version.status == ModelVersion.Status.ACTIVE
        before = Job.objects.count()
        assert all(client.post("/api/tools/sentiment/jobs", params).status_code == 201 for _ in range(30))
        after = Counter(Job.objects.order_by("created_at")[before:].values_list("variant__name", flat=True))
        assert after == {"B": 30}


def test_sticky_routing_keeps_each_user_on_one_variant(ab: tuple[Endpoint, Variant, Variant]) -> None:
    endpoint, _, _ = ab
    endpoint.sticky = True
    endpoint.save()
    first = {user_id: routing.choose("sentiment", user_id) for user_id in range(1, N + 1)}
    split = Counter(v.name for v in first.values() if v is not None)
    assert LOW <= split["A"] <= HIGH and split["A"] + split["B"] == N, split
    again = {user_id: routing.choose("sentiment", user_id) for user_id in range(1, 200)}
    assert all(again[u] == first[u] for u in again)


def test_no_endpoint_or_no_weight_means_the_active_version(alice: Any,
                                                           ab: tuple[Endpoint, Variant, Variant]) -> None:
    Variant.objects.update(weight=0)
    assert routing.choose("sentiment", alice.pk) is None
    assert routing.choose("dcgan", alice.pk) is None  # no endpoint at all


def test_the_admin_shows_each_variants_figures_side_by_side(alice: Any, admin_client: Any,
                                                            ab: tuple[Endpoint, Variant, Variant]) -> None:
    endpoint, a, b = ab
    for variant, n, failed in ((a, 6, 1), (b, 3, 0)):
        for i in range(n):
            job = Job.objects.create(owner=alice, kind="sentiment", params={"text": "good"}, variant=variant)
            if i < failed:
                Job.objects.filter(pk=job.pk).update(state=JobState.FAILED, finished_at=job.created_at)
            else:
                runner.run(str(job.pk), job.task_id, "worker-a")
    # Synchronous invokes A's version answered, as the invoke server counts them in Redis.
    counted = [stats.InvokeStats("sentiment", a.version.label, requests=40, batches=8, seconds=0.4),
               stats.InvokeStats("dcgan", b.version.label, requests=7, batches=7, seconds=1.0)]
    with mock.patch.object(stats, "read", return_value=counted):
        page = admin_client.get(f"/admin/catalog/endpoint/{endpoint.pk}/change/").content.decode()
    assert 'id="variant-report"' in page
    row_a = page.split('data-variant="A"', 1)[1].split("</tr>", 1)[0]
    row_b = page.split('data-variant="B"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="invokes">40</td>' in row_a and "5.0 req, 50.0 ms" in row_a
    assert '<td class="invokes">0</td>' in row_b  # another family's counts are not B's
    assert '<td class="jobs">6</td>' in row_a and '<td class="jobs">3</td>' in row_b
    assert "17 %" in row_a and "0 %" in row_b  # error rates: 1 of 6, none of 3
    assert "score histogram" in row_a  # sentiment: the spread of the scores
