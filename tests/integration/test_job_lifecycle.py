"""The real path: web view → Redis → Celery worker process → PostgreSQL → channel layer →
daphne → WebSocket client."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from apps.jobs.models import Job, JobFile
from apps.tools.lineage import read_lineage
from tests.integration.helpers import (
    is_terminal,
    job_state,
    logged_in,
    open_socket,
    read_events,
    submit,
    submit_style,
    wait_for,
    watch_to_the_end,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_style_job_streams_ordered_events_and_stores_result(stack, style_model):
    _, client = logged_in("alice")
    job = submit_style(client)
    events = watch_to_the_end(stack, client, job)
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    states = [e["data"]["state"] for e in events if e["kind"] == "state"]
    assert states == ["queued", "running", "succeeded"]
    progress = [e["data"] for e in events if e["kind"] == "progress"]
    assert any(p.get("preview", "").startswith(f"/jobs/{job.pk}/files/") for p in progress)
    steps = [p["step"] for p in progress]
    assert steps == sorted(steps) and steps[-1] == progress[-1]["total"]
    job.refresh_from_db()
    assert job.result["network"] == "efficientnet-lite0"
    assert (job.model, job.model_sha256, job.model_version) == (style_model, style_model.sha256,
                                                                 style_model.label)
    result = job.files.get(role=JobFile.Role.RESULT)
    with result.file.open("rb") as fh:
        png = fh.read()
    assert Image.open(io.BytesIO(png)).size == (64, 48)
    record = read_lineage(png)  # the result says how it was made
    assert record["tool"] == "style" and record["seed"] == 1 and record["params"]["steps"] == 30
    assert record["model"]["sha256"] == style_model.sha256
    download = client.get(f"/jobs/{job.pk}/files/{result.pk}/?download=1")
    assert download.status_code == 200 and b"".join(download.streaming_content) == png
    assert 'attachment; filename="stylized.png"' in download["Content-Disposition"]


def test_reconnect_with_last_sequence_gets_exactly_the_missed_events(stack):
    _, client = logged_in("bob")
    job = submit(client, "sleep", {"steps": 20, "step_seconds": 0.15})
    with open_socket(stack, client, job) as ws:
        first = read_events(ws, lambda e: e["kind"] == "progress" and e["data"]["step"] >= 3)
    last_seen = first[-1]["seq"]
    wait_for(lambda: Job.objects.get(pk=job.pk).last_seq > last_seen + 3, what="more events")
    with open_socket(stack, client, job, after=last_seen) as ws:
        rest = read_events(ws, is_terminal)
    assert [e["seq"] for e in rest] == list(range(last_seen + 1, last_seen + 1 + len(rest)))
    stored = list(job.events.values_list("seq", flat=True))
    assert [e["seq"] for e in first + rest] == stored


def test_cancel_running_job_then_worker_takes_the_next(stack):
    _, client = logged_in("carol")
    job = submit(client, "sleep", {"steps": 500, "step_seconds": 0.1})
    wait_for(lambda: Job.objects.get(pk=job.pk).step >= 2, what="job running")
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 302
    wait_for(lambda: job_state(job) == "cancelled", timeout=10, what="cancelled")
    assert job.step < 500
    follow = submit(client, "sleep", {"steps": 3, "step_seconds": 0.05})
    wait_for(lambda: job_state(follow) == "succeeded", timeout=30, what="next job done")


def test_cancel_queued_job_removes_it(stack):
    _, client = logged_in("dan")
    blocker = submit(client, "sleep", {"steps": 30, "step_seconds": 0.1})
    queued = submit(client, "sleep", {"steps": 3, "step_seconds": 0.05})
    assert job_state(queued) == "queued"
    assert client.post(f"/jobs/{queued.pk}/cancel/").status_code == 302
    assert job_state(queued) == "cancelled"
    wait_for(lambda: job_state(blocker) == "succeeded", timeout=30, what="blocker done")
    queued.refresh_from_db()
    assert queued.state == "cancelled" and queued.started_at is None


def test_job_that_ignores_cancel_is_killed_after_grace(stack):
    _, client = logged_in("erin")
    job = submit(client, "sleep", {"steps": 600, "step_seconds": 0.1, "ignore_cancel": "on"})
    wait_for(lambda: Job.objects.get(pk=job.pk).step >= 2, what="job running")
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 302
    # grace is 3 s in the test stack; the watchdog kills the worker child after it
    wait_for(lambda: job_state(job) == "cancelled", timeout=20, what="killed and cancelled")
    grace = float(stack.env["STUDIO_CANCEL_GRACE_SECONDS"])
    assert job.message == f"Cancelled: did not stop within {grace:g}s, worker child killed"
    follow = submit(client, "sleep", {"steps": 2, "step_seconds": 0.05})
    wait_for(lambda: job_state(follow) == "succeeded", timeout=60, what="worker replaced child")
    job.refresh_from_db()
    assert job.state == "cancelled"
