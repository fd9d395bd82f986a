"""The CycleGAN tool on the real path: a photo submitted through the web view is translated by the
worker process with the active starter model, whole and then in tiles, and the result downloads."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from apps.catalog.models import ModelVersion
from apps.jobs.models import Job, JobFile
from apps.tools.lineage import read_lineage
from ml.common.sample_scene import sample_scene
from tests.conftest import install_starter
from tests.integration.helpers import logged_in, submit, watch_to_the_end

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def vintagify() -> ModelVersion:
    return install_starter("cyclegan", "vintagify", "vintagify")


def submit_photo(client: Client, size: tuple[int, int], **params: Any) -> Job:
    buffer = io.BytesIO()
    sample_scene(size).save(buffer, format="PNG")
    data = {"photo": SimpleUploadedFile("photo.png", buffer.getvalue(), "image/png"),
            "max_side": 1024, "tile": "auto", **params}
    return submit(client, "cyclegan", data)


def run_to_the_end(stack: Any, client: Client, job: Job) -> list[dict[str, Any]]:
    events = watch_to_the_end(stack, client, job, timeout=180)
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    assert [e["data"]["state"] for e in events if e["kind"] == "state"] == ["queued", "running", "succeeded"]
    return [e["data"] for e in events if e["kind"] == "progress"]


def download(client: Client, job: Job) -> bytes:
    result = job.files.get(role=JobFile.Role.RESULT)
    response = client.get(f"/jobs/{job.pk}/files/{result.pk}/?download=1")
    assert response.status_code == 200
    assert 'attachment; filename="translated.png"' in response["Content-Disposition"]
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_the_worker_translates_a_photo_whole_then_in_tiles(stack, vintagify: ModelVersion) -> None:  # type: ignore[no-untyped-def]
    _, client = logged_in("dora")

    whole = submit_photo(client, (120, 90))
    progress = run_to_the_end(stack, client, whole)
    # The worker lives for the whole session: an earlier test may have loaded these same bytes.
    assert progress[0]["message"].startswith(f"Model {vintagify.label}: ")
    assert (whole.model, whole.model_sha256, whole.model_version) == (vintagify, vintagify.sha256,
                                                                       vintagify.label)
    assert whole.result["tiles"] == 1 and whole.result["model"]["cache"] in ("hit", "miss")
    png = download(client, whole)
    assert Image.open(io.BytesIO(png)).size == (120, 90)
    assert read_lineage(png)["model"]["sha256"] == vintagify.sha256

    tiled = submit_photo(client, (320, 96), tile="256")
    progress = run_to_the_end(stack, client, tiled)
    assert progress[0]["message"] == f"Model {vintagify.label}: already loaded"
    assert progress[-1] == {"step": 2, "total": 2, "message": "Tile 2 of 2"}
    assert tiled.model == vintagify and tiled.result["model"]["cache"] == "hit"
    assert tiled.result["tiles"] == 2 and tiled.result["tile"] == 256
    assert Image.open(io.BytesIO(download(client, tiled))).size == (320, 96)
    page = client.get(f"/jobs/{tiled.pk}/").content.decode()
    assert vintagify.label in page and "MIT" in page  # the model and its licence show on the job page
