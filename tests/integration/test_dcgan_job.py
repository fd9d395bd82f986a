"""DCGAN jobs on the real path: submitted through the web view, run by the real Celery worker with
the real starter faces model, results stored and served. The same seed twice gives the same pixels."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image

from apps.catalog.models import ModelVersion
from apps.jobs.models import Job, JobFile
from apps.tools.lineage import read_lineage
from tests.conftest import install_starter
from tests.integration.helpers import finished, logged_in, submit

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def faces() -> ModelVersion:
    return install_starter("dcgan", "gan_face_generate", "gan-face-generate")


def results(job: Job) -> dict[str, JobFile]:
    return {f.name: f for f in job.files.filter(role=JobFile.Role.RESULT)}


def download(client: Client, job: Job, job_file: JobFile) -> bytes:
    response = client.get(f"/jobs/{job.pk}/files/{job_file.pk}/?download=1")
    assert response.status_code == 200
    assert f'filename="{job_file.name}"' in response["Content-Disposition"]
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size, image.convert("RGB").tobytes()


def test_a_grid_job_twice_with_the_same_seed_gives_the_same_pixels(stack, faces: ModelVersion) -> None:  # type: ignore[no-untyped-def]
    _, client = logged_in("alice")
    jobs = [finished(submit(client, "dcgan", {"mode": "grid", "n": 16, "seed": 5})) for _ in range(2)]
    other = finished(submit(client, "dcgan", {"mode": "grid", "n": 16, "seed": 6}))
    for job in (*jobs, other):
        assert job.model == faces and job.model_sha256 == faces.sha256 and job.model_version == faces.label
        assert job.params["mode"] == "grid" and job.result["images"] == 16
        files = results(job)
        assert list(files) == ["grid.png", *[f"sample-{i:03d}.png" for i in range(16)]]
    assert jobs[1].result["model"]["cache"] == "hit"  # the worker kept the generator loaded
    grids = [download(client, job, results(job)["grid.png"]) for job in (*jobs, other)]
    assert pixels(grids[0])[0] == (2 + 4 * 66, 2 + 4 * 66)
    assert pixels(grids[0]) == pixels(grids[1])
    assert pixels(grids[0]) != pixels(grids[2])
    assert read_lineage(grids[0])["model"]["sha256"] == faces.sha256
    progress = [e.data["step"] for e in jobs[0].events.filter(kind="progress")]
    assert progress[0] == 0 and progress[-1] == 16


def test_a_latent_walk_job_gives_a_strip_and_a_gif(stack, faces: ModelVersion) -> None:  # type: ignore[no-untyped-def]
    _, client = logged_in("bob")
    data = {"mode": "walk", "seed_a": 2, "seed_b": 9, "steps": 6, "gif": "on"}
    job = finished(submit(client, "dcgan", data))
    assert job.model == faces
    assert job.params == {"mode": "walk", "seed_a": 2, "seed_b": 9, "steps": 6, "gif": True}
    files = results(job)
    assert list(files) == ["walk-strip.png", "walk.gif"]
    assert files["walk.gif"].content_type == "image/gif"
    assert pixels(download(client, job, files["walk-strip.png"]))[0] == (2 + 6 * 66, 2 + 66)
    with Image.open(io.BytesIO(download(client, job, files["walk.gif"]))) as gif:
        assert gif.n_frames == 2 * 6 - 2 and gif.info["loop"] == 0
