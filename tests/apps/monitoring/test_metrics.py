"""/metrics: Prometheus text with the job figures read from the database (per tool, state and
variant), the queue depths from Redis (-1 when it cannot be reached), and the optional scrape token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from apps.jobs.models import Job, JobState

pytestmark = pytest.mark.django_db


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_jobs_durations_failures_and_cache_hits(alice: Any, settings: Any) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens: depth -1, no error
    now = timezone.now()
    for state, seconds, cache in [("succeeded", 2.0, "miss"), ("succeeded", 4.0, "hit"),
                                  ("failed", 1.0, None), ("queued", None, None)]:
        job = Job.objects.create(owner=alice, kind="sentiment", params={}, state=state)
        if seconds is not None:
            Job.objects.filter(pk=job.pk).update(started_at=now, finished_at=now + timedelta(seconds=seconds),
                                                 result={"model": {"cache": cache}} if cache else {})
    from apps.catalog.models import ModelVersion

    version = ModelVersion.objects.create(family="sentiment", name="x", version=1)
    Job.objects.filter(state=JobState.SUCCEEDED).update(model=version)

    response = Client().get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    got = samples(response.content.decode())
    assert got[("studio_jobs", (("state", "succeeded"), ("tool", "sentiment")))] == 2
    assert got[("studio_jobs", (("state", "queued"), ("tool", "sentiment")))] == 1
    assert got[("studio_job_duration_seconds_count", (("tool", "sentiment"), ("variant", "")))] == 3
    assert got[("studio_job_duration_seconds_sum", (("tool", "sentiment"), ("variant", "")))] == 7.0
    assert got[("studio_job_failures_total", (("tool", "sentiment"),))] == 1
    assert got[("studio_model_loads_total", (("cache", "hit"),))] == 1
    assert got[("studio_model_loads_total", (("cache", "miss"),))] == 1
    assert got[("studio_queue_depth", (("queue", "gpu"),))] == -1


def test_a_scrape_token_once_set_is_needed_to_read_the_metrics(settings: Any) -> None:
    settings.STUDIO_METRICS_TOKEN = "scrape-secret"
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    assert Client().get("/metrics").status_code == 401
    assert Client(headers={"Authorization": "Bearer wrong"}).get("/metrics").status_code == 401
    allowed = Client(headers={"Authorization": "Bearer scrape-secret"}).get("/metrics")
    assert allowed.status_code == 200
    assert samples(allowed.content.decode())[("studio_queue_depth", (("queue", "gpu"),))] == -1
