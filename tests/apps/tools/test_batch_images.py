"""Batch jobs over a zip of images: 50 images of which 3 are broken end with 47 results and the 3
listed with their reasons; retrying with replacements for the 3 completes the set without redoing
the 47; a cancelled batch keeps the images it finished and retries the rest; the tool's settings
are checked by the tool's own form at submit; only the owner retries."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from apps.catalog import services as catalog
from apps.jobs.models import Job, JobFile, JobState
from apps.jobs.reporter import JobReporter
from apps.tools.batch_images import BatchImagesForm
from ml.common.checkpoint import checkpoint_dict
from ml.common.progress import NOT_RUN
from ml.cyclegan.config import CycleGANConfig
from ml.cyclegan.model import ResnetGenerator
from tests.apps.conftest import run_job

pytestmark = pytest.mark.django_db

BROKEN = {"img-07.png": b"\x89PNG\r\n\x1a\n broken", "img-21.jpg": b"\xff\xd8\xff\xe0 cut short",
          "img-33.png": b""}
UNKNOWN = "not an image (unrecognised file format)"
REASONS = [{"image": "img-07.png", "reason": UNKNOWN},
           {"image": "img-21.jpg", "reason": "image is truncated or corrupt"},
           {"image": "img-33.png", "reason": "not an image: the file is empty"}]


def png(i: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (5 * i % 256, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def image_zip(names: list[str], broken: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i, name in enumerate(names):
            archive.writestr(name, broken[name] if broken and name in broken else png(i))
    return buffer.getvalue()


@pytest.fixture
def tiny_cyclegan() -> None:
    cfg = CycleGANConfig(ngf=4, n_blocks=1)
    torch.manual_seed(0)
    buffer = io.BytesIO()
    weights = ResnetGenerator(cfg).state_dict()
    torch.save(checkpoint_dict(family="cyclegan", config=cfg, state_dict=weights), buffer)
    buffer.seek(0)
    version = catalog.add_version("cyclegan", "tiny", buffer, "tiny.pt")
    catalog.validate_version(version)
    catalog.activate(version)


def submit(client: Client, data: bytes, **extra: Any) -> Job:
    upload = SimpleUploadedFile("set.zip", data, "application/zip")
    response = client.post("/tools/batch-images/", {"images": upload, "tool": "cyclegan",
                                                    "tool_params": '{"max_side": 64}', **extra})
    assert response.status_code == 302, response.content.decode()[-2000:]
    return Job.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])


def result_names(job: Job) -> set[str]:
    stored = job.files.get(role=JobFile.Role.RESULT, name="results.zip")
    with stored.file.open("rb") as fh, zipfile.ZipFile(fh) as archive:
        return set(archive.namelist())


def test_50_images_with_3_broken_give_47_results_then_a_retry_completes_the_set(
        alice_client: Client, tiny_cyclegan: None) -> None:
    names = [f"img-{i:02d}.{'jpg' if i == 21 else 'png'}" for i in range(50)]
    client = alice_client
    job = run_job(submit(client, image_zip(names, BROKEN)))
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result["done"] == 47 and result_names(job) == {n for n in names if n not in BROKEN}
    assert job.result["failed"] == REASONS
    report = list(csv.DictReader(io.StringIO(job.files.get(name="report.csv").file.read().decode())))
    statuses = [r["status"] for r in report]
    assert (statuses.count("failed"), statuses.count("ok")) == (3, 47)
    steps = [e.data["step"] for e in job.events.filter(kind="progress")]
    assert steps[-1] == 47 and steps == sorted(steps)  # per-image progress
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="retry-failed-form"' in page and "img-07.png" in page

    fixed = image_zip(sorted(BROKEN))
    response = client.post(f"/jobs/{job.pk}/retry-failed/",
                           {"images": SimpleUploadedFile("fixed.zip", fixed, "application/zip")})
    retry = Job.objects.exclude(pk=job.pk).get()
    assert response["Location"] == f"/jobs/{retry.pk}/"
    retry = run_job(retry)
    assert retry.state == JobState.SUCCEEDED, retry.error
    assert retry.result["failed"] == [] and retry.result["kept_from_earlier"] == 47
    # Every image translated, each a PNG under its own name (img-21.jpg gives img-21.png).
    assert retry.result["done"] == 50 and result_names(retry) == {n.replace(".jpg", ".png") for n in names}
    steps = [e.data["step"] for e in retry.events.filter(kind="progress")]
    assert steps[-1] == 3  # only the replacements ran


def test_a_cancelled_batch_keeps_the_images_done_and_a_retry_runs_the_rest(
        alice_client: Client, tiny_cyclegan: None, monkeypatch: Any) -> None:
    names = [f"img-{i}.png" for i in range(6)]
    client = alice_client
    update, done = JobReporter.update, {"step": 0}

    def counting(self: JobReporter, step: int, total: int, *a: Any, **kw: Any) -> None:
        update(self, step, total, *a, **kw)
        done["step"] = step

    monkeypatch.setattr(JobReporter, "update", counting)
    monkeypatch.setattr(JobReporter, "cancelled", lambda self: done["step"] >= 2)  # after two images
    job = run_job(submit(client, image_zip(names)))
    monkeypatch.undo()
    assert job.state == JobState.CANCELLED
    assert job.result["done"] == 2 and result_names(job) == {"img-0.png", "img-1.png"}
    assert job.result["failed"] == [{"image": n, "reason": NOT_RUN} for n in names[2:]]
    assert job.result["not_run"] == 4
    report = list(csv.DictReader(io.StringIO(job.files.get(name="report.csv").file.read().decode())))
    assert [r["status"] for r in report] == ["ok"] * 2 + ["failed"] * 4
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Download results.zip" in page and 'id="retry-failed-form"' in page

    rest = SimpleUploadedFile("rest.zip", image_zip(names[2:]), "application/zip")
    response = client.post(f"/jobs/{job.pk}/retry-failed/", {"images": rest})
    retry = Job.objects.exclude(pk=job.pk).get()
    assert response["Location"] == f"/jobs/{retry.pk}/"
    retry = run_job(retry)
    assert retry.state == JobState.SUCCEEDED, retry.error
    assert (retry.result["done"], retry.result["kept_from_earlier"], retry.result["failed"]) == (6, 2, [])
    assert result_names(retry) == set(names)


@pytest.mark.parametrize(("tool", "tool_params", "errors"), [
    ("cyclegan", '{"max_side": 5}',
     {"tool_params": ["max_side: Ensure this value is greater than or equal to 64."]}),
    ("cyclegan", "{nope",
     {"tool_params": ["Not JSON: Expecting property name enclosed in double quotes: line 1 column 2 "
                      "(char 1)"]}),
    ("dcgan", "{}", {"tool": ["Select a valid choice. dcgan is not one of the available choices."]}),
], ids=["out of range", "not JSON", "not an image tool"])
def test_the_tools_settings_are_checked_at_submit(tool: str, tool_params: str,
                                                  errors: dict[str, list[str]]) -> None:
    upload = SimpleUploadedFile("s.zip", image_zip(["a.png", "b.png"]), "application/zip")
    form = BatchImagesForm({"tool": tool, "tool_params": tool_params}, {"images": upload})
    assert not form.is_valid()
    assert form.errors == errors


def test_only_the_owner_retries_and_only_a_batch_with_failures(alice_client: Client, bob_client: Client,
                                                               tiny_cyclegan: None) -> None:
    owner, other = alice_client, bob_client
    job = run_job(submit(owner, image_zip(["a.png", "b.png"], {"b.png": b"junk"})))
    assert job.result["failed"] == [{"image": "b.png", "reason": UNKNOWN}]
    fixed = SimpleUploadedFile("f.zip", image_zip(["b.png"]), "application/zip")
    assert other.post(f"/jobs/{job.pk}/retry-failed/", {"images": fixed}).status_code == 404
    clean = run_job(submit(owner, image_zip(["c.png"])))
    assert clean.result["failed"] == []
    fixed.seek(0)
    assert owner.post(f"/jobs/{clean.pk}/retry-failed/", {"images": fixed}).status_code == 404
    assert Job.objects.count() == 2
