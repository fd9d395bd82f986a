"""Guardrails (apps/catalog/guardrails.py): a variant whose jobs fail is taken out of rotation by
itself within the endpoint's configured number of jobs, through real jobs submitted over the API and
run by the job runner; healthy variants keep their traffic; the trip is recorded, mailed to the
admins and shown on the endpoint's admin page; a variant put back starts a fresh window; and the
verdict's arithmetic (error margin, latency factor, too few jobs) on its own."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.test import Client

from apps.api.api import api as ninja_api
from apps.api.models import ApiToken
from apps.catalog import guardrails, loading, services
from apps.catalog.models import Endpoint, GuardrailTrip, Variant
from apps.jobs import runner
from apps.jobs.models import Job, JobState
from tests.apps.catalog.sentiment_versions import sentiment_version

pytestmark = pytest.mark.django_db

MIN_JOBS = 8


@pytest.fixture
def endpoint(settings: Any) -> tuple[Endpoint, Variant, Variant]:
    """A 50/50 sentiment endpoint, A the control (the active version), B a candidate."""
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 1000
    a, b = sentiment_version("gentle", 1.0), sentiment_version("bold", 4.0)
    services.activate(a)
    endpoint = Endpoint.objects.create(family="sentiment", sticky=False, guard_min_jobs=MIN_JOBS)
    control = Variant.objects.create(endpoint=endpoint, name="A", version=a, weight=50, control=True)
    return endpoint, control, Variant.objects.create(endpoint=endpoint, name="B", version=b, weight=50)


def break_version(variant: Variant) -> None:
    """What a damaged artifact does: the stored checkpoint no longer matches what was validated."""
    storage, name = variant.version.checkpoint.storage, variant.version.checkpoint.name
    storage.delete(name)
    assert storage.save(name, ContentFile(b"not a checkpoint")) == name
    loading.cache().clear()  # an earlier test's model with the same bytes would still serve from memory


def run_jobs(alice: Any, count: int, capture: Any) -> list[Job]:
    """``count`` sentiment jobs submitted over the API and run one after another, each ending
    (and so judged by the guardrails, on commit) before the next is submitted."""
    client = Client(headers={"Authorization": f"Bearer {ApiToken.issue(alice, 'guard')[1]}"})
    params = {"params": json.dumps({"text": "a good film"})}
    jobs = []
    with mock.patch.object(ninja_api.throttle, "num_requests", 10_000):
        for _ in range(count):
            with capture(execute=True):
                response = client.post("/api/tools/sentiment/jobs", params)
                assert response.status_code == 201, response.content
                job = Job.objects.get(pk=response.json()["id"])
                runner.run(str(job.pk), job.task_id, "worker-a")
            job.refresh_from_db()
            jobs.append(job)
    return jobs


def test_a_broken_variant_loses_its_traffic_within_the_configured_jobs(
        alice: Any, admin_client: Any, endpoint: tuple[Endpoint, Variant, Variant],
        django_capture_on_commit_callbacks: Any) -> None:
    _, a, b = endpoint
    break_version(b)
    jobs = run_jobs(alice, 60, django_capture_on_commit_callbacks)
    served = [job.variant.name for job in jobs if job.variant]
    assert all(job.state == JobState.SUCCEEDED for job in jobs if job.variant == a)
    failed_b = [job for job in jobs if job.variant == b]
    assert all(job.state == JobState.FAILED for job in failed_b)
    assert "changed since it was validated" in failed_b[0].error
    # B served exactly MIN_JOBS jobs: the guardrail took it out as its 8th ended, before the 9th.
    assert Counter(served)["B"] == MIN_JOBS, Counter(served)
    last_b = max(i for i, name in enumerate(served) if name == "B")
    assert set(served[last_b + 1:]) == {"A"} and len(served) - last_b - 1 >= 20
    b.refresh_from_db()
    assert b.weight == 0
    trip = GuardrailTrip.objects.get(variant=b)
    assert trip.reason.startswith("error rate 100% against the control's 0%"), trip.reason
    assert trip.figures["variant"]["jobs"] == MIN_JOBS and trip.figures["weight"] == 50
    assert len(mail.outbox) == 1 and "sentiment/B taken out" in mail.outbox[0].subject
    page = admin_client.get(f"/admin/catalog/endpoint/{endpoint[0].pk}/change/").content.decode()
    assert 'id="guardrail-trips"' in page and "error rate 100%" in page


def test_healthy_variants_keep_their_traffic(alice: Any, endpoint: tuple[Endpoint, Variant, Variant],
                                            django_capture_on_commit_callbacks: Any) -> None:
    _, a, b = endpoint
    jobs = run_jobs(alice, 5 * MIN_JOBS, django_capture_on_commit_callbacks)
    assert all(job.state == JobState.SUCCEEDED for job in jobs)
    # B's share is binomial(40, 0.5): fewer than 8 about once in 100,000 runs.
    assert Counter(job.variant.name for job in jobs if job.variant)["B"] >= MIN_JOBS  # judged at least once
    b.refresh_from_db()
    assert b.weight == 50 and not GuardrailTrip.objects.exists() and not mail.outbox


Trio = tuple[Endpoint, Variant, Variant]


def test_a_variant_put_back_is_judged_on_its_new_jobs_only(alice: Any, endpoint: Trio) -> None:
    _, _, b = endpoint
    for _ in range(MIN_JOBS):
        Job.objects.create(owner=alice, kind="sentiment", variant=b, state=JobState.FAILED)
    assert guardrails.check(b.pk) is not None
    b.weight = 50  # put back (the version fixed, say)
    b.save()
    assert guardrails.check(b.pk) is None  # the failures before the trip no longer count
    b.refresh_from_db()
    assert b.weight == 50


def window(jobs: int, failed: int, p95: float | None) -> guardrails.Window:
    return guardrails.Window(jobs, failed, p95)


def test_the_verdict_weighs_errors_then_latency_and_waits_for_enough_jobs() -> None:
    judge = lambda mine, control: guardrails.verdict(mine, control, 10, 0.1, 3.0)  # noqa: E731
    healthy = window(10, 0, 1.0)
    assert judge(window(9, 9, 1.0), healthy) is None  # too few jobs to judge
    assert judge(window(10, 1, 1.0), healthy) is None  # 10 % worse: at the margin, not over it
    assert "error rate 20%" in (judge(window(10, 2, 1.0), healthy) or "")
    assert judge(window(10, 2, 1.0), window(10, 1, 1.0)) is None  # the control fails too
    assert "p95 latency 3.10 s" in (judge(window(10, 0, 3.1), healthy) or "")
    assert judge(window(10, 0, 3.1), window(5, 0, 1.0)) is None  # too little control to compare with
    assert guardrails.verdict(window(10, 0, 30.0), healthy, 10, 0.1, 0.0) is None  # latency off
