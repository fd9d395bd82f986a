"""Fast style on the real path: submitted through the web view, run by the real Celery worker with
the real 26-style starter from the catalog, the result downloadable and naming its model."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from apps.jobs.models import Job, JobFile
from apps.tools.lineage import read_lineage
from tests.apps.tools.fast_style_starter import GLOW, STARRY, install_fast_style_starter, photo_bytes
from tests.integration.helpers import finished, logged_in, submit

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_fast_style_blend_runs_in_the_worker_and_downloads(stack) -> None:  # type: ignore[no-untyped-def]
    version = install_fast_style_starter(previews=False)  # the picker is not used here
    _, client = logged_in("alice")

    job = finished(submit(client, "fast-style", {
        "photo": SimpleUploadedFile("photo.png", photo_bytes((160, 120)), "image/png"),
        "style": "", "blend": f"{STARRY}=3, {GLOW}=1", "max_side": 96, "preserve_colors": "on"}))

    assert job.model == version and job.model_sha256 == version.sha256
    assert job.model_version == version.label
    assert job.result["styles"] == {STARRY: 3.0, GLOW: 1.0} and job.result["size"] == [96, 72]
    assert job.result["model"]["sha256"] == version.sha256
    progress = [e.data for e in job.events.filter(kind="progress")]
    assert progress[-1]["step"] == progress[-1]["total"] == 1 and "preview" in progress[-1]

    result = job.files.get(role=JobFile.Role.RESULT)
    response = client.get(reverse("job-file", args=[job.pk, result.pk]) + "?download=1")
    assert response.status_code == 200
    assert 'attachment; filename="fast-style.png"' in response["Content-Disposition"]
    png = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert Image.open(io.BytesIO(png)).size == (96, 72)
    record = read_lineage(png)
    assert record["model"]["sha256"] == version.sha256 and record["tool"] == "fast-style"
    assert record["params"] == {"styles": {STARRY: 3.0, GLOW: 1.0}, "max_side": 96, "preserve_colors": True}

    page = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    assert version.label in page and "fast-style.png" in page
    assert Job.objects.filter(kind="fast-style").count() == 1
