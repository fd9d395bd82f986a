"""Data capture (apps/catalog/capture.py): a variant's sampled jobs and invokes are recorded with
their inputs, outputs and copies of their input files; a rate of 0 records nothing and a rate
between takes about that share; invoked pictures' bytes are not kept; the retention limits remove
old and surplus captures together with their files."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from apps.api import invoke
from apps.api.api import api as ninja_api
from apps.api.models import ApiToken
from apps.catalog import capture, services, tasks
from apps.catalog.models import Capture, Endpoint, Variant
from apps.jobs import runner, signals
from apps.jobs.models import Job, JobFile, JobState
from tests.apps.catalog.sentiment_versions import sentiment_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def variant(settings: Any) -> Variant:
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 1000
    version = sentiment_version("gentle", 1.0)
    services.activate(version)
    endpoint = Endpoint.objects.create(family="sentiment", sticky=False)
    return Variant.objects.create(endpoint=endpoint, name="A", version=version, weight=1, capture_rate=1.0)


def api_client(user: Any) -> Client:
    return Client(headers={"Authorization": f"Bearer {ApiToken.issue(user, 'capture')[1]}"})


def run_sentiment_jobs(alice: Any, texts: list[str], capture_callbacks: Any) -> None:
    client = api_client(alice)
    with mock.patch.object(ninja_api.throttle, "num_requests", 10_000):
        for text in texts:
            with capture_callbacks(execute=True):
                response = client.post("/api/tools/sentiment/jobs", {"params": json.dumps({"text": text})})
                job = Job.objects.get(pk=response.json()["id"])
                runner.run(str(job.pk), job.task_id, "worker-a")


def test_a_fully_sampled_variant_records_every_job(alice: Any, variant: Variant,
                                                   django_capture_on_commit_callbacks: Any) -> None:
    run_sentiment_jobs(alice, ["a good film", "a bad film"], django_capture_on_commit_callbacks)
    captures = list(Capture.objects.order_by("created_at"))
    assert [c.inputs["text"] for c in captures] == ["a good film", "a bad film"]
    assert all(c.source == "job" and c.tool == "sentiment" and c.variant == variant for c in captures)
    assert captures[0].outputs["probability"] > 0.5 > captures[1].outputs["probability"]
    assert {c.job_id for c in captures} == set(Job.objects.values_list("pk", flat=True))


def test_a_jobs_input_files_are_copied_and_a_failure_keeps_its_error(alice: Any, variant: Variant) -> None:
    job = Job.objects.create(owner=alice, kind="fast-style", variant=variant, state=JobState.FAILED,
                             params={"max_side": 256}, error="the photo is corrupt")
    JobFile.objects.create(job=job, role=JobFile.Role.INPUT, field="photo", name="cat.png",
                           content_type="image/png", size=5, file=ContentFile(b"\x89PNG!", name="cat.png"))
    signals.after_variant_job(None, job.pk, "failed")
    record = Capture.objects.get()
    assert record.outputs == {"state": "failed", "error": "the photo is corrupt"}
    assert len(record.files) == 1 and record.files[0].startswith(f"captures/{variant.pk}/")
    with default_storage.open(record.files[0]) as copied:
        assert copied.read() == b"\x89PNG!"


def test_rate_0_records_nothing_and_a_rate_takes_about_its_share(alice: Any, variant: Variant,
                                                                 django_capture_on_commit_callbacks: Any
                                                                 ) -> None:
    Variant.objects.filter(pk=variant.pk).update(capture_rate=0.0)
    run_sentiment_jobs(alice, ["a good film"] * 3, django_capture_on_commit_callbacks)
    assert Job.objects.filter(variant=variant, state=JobState.SUCCEEDED).count() == 3
    assert not Capture.objects.exists()
    rng = random.Random(7)
    share = sum(capture.sampled(0.3, rng) for _ in range(10_000)) / 10_000
    assert abs(share - 0.3) < 0.02, share  # sd 0.0046: over 4 sd either side


def test_an_invoke_is_recorded_by_a_task_without_picture_bytes(alice: Any, variant: Variant) -> None:
    class AnsweringRedis:
        async def rpush(self, key: str, value: str) -> None:
            pass

        async def blpop(self, keys: list[str], timeout: float) -> tuple[str, str]:
            return keys[0], json.dumps({"label": "positive", "probability": 0.8, "model": "sentiment/v1",
                                        "batch": 1})

    def run_now(*args: Any) -> None:  # what the worker does with the task
        tasks.record_invoke.run(*args)

    with mock.patch("apps.api.invoke._client", return_value=AnsweringRedis()), \
            mock.patch.object(invoke.record_invoke, "delay", side_effect=run_now):
        response = api_client(alice).post("/api/tools/sentiment/invoke", {"text": "a fine film"},
                                          content_type="application/json")
    assert response.status_code == 200, response.content
    record = Capture.objects.get()
    assert record.source == "invoke" and record.inputs == {"text": "a fine film"}
    assert record.outputs["label"] == "positive" and record.files == []

    sent = mock.Mock()
    with mock.patch.object(invoke.record_invoke, "delay", sent):
        asyncio.run(invoke._capture("fast-style", variant.pk, {"photo": "iVBOR...", "max_side": 256},
                                    {"png": "iVBOR...", "model": "fast-style/v1", "batch": 1}))
    sent.assert_called_once_with(variant.pk, "fast-style", {"max_side": 256},
                                 {"model": "fast-style/v1", "batch": 1})


def test_retention_removes_old_and_surplus_captures_with_their_files(variant: Variant, settings: Any) -> None:
    settings.STUDIO_CAPTURE_RETENTION_DAYS, settings.STUDIO_CAPTURE_MAX_PER_VARIANT = 30, 3
    made = [capture.record(variant.pk, "job", "sentiment", {"i": i}, {}, files=[("x.txt", ContentFile(b"x"))])
            for i in range(5)]
    Capture.objects.filter(pk=made[0].pk).update(created_at=timezone.now() - timedelta(days=31))
    for i, record in enumerate(made[1:]):  # newest last
        Capture.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(minutes=10 - i))
    assert capture.prune() == 2  # the 31-day-old one, then the oldest beyond the newest 3
    assert sorted(c.inputs["i"] for c in Capture.objects.all()) == [2, 3, 4]
    assert not default_storage.exists(made[0].files[0]) and not default_storage.exists(made[1].files[0])
    assert default_storage.exists(made[4].files[0])
    assert capture.prune() == 0
