"""The CycleGAN photo translation tool: bad uploads and parameters are a 400 that says what is wrong
(and no job), no active model is a job error that says what to do, and run() translates a photo with
the real vintagify starter model, whole or in tiles, recording which version it used."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from unittest import mock

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from apps.catalog import loading
from apps.catalog.models import ModelVersion
from apps.jobs.models import Job, JobFile, JobState
from apps.tools.base import ToolOutput
from apps.tools.context import outside_job
from apps.tools.cyclegan import tile_size
from apps.tools.lineage import read_lineage
from apps.tools.registry import get_tool
from ml.common.model_cache import ModelCache
from ml.common.sample_scene import sample_scene
from tests.apps.conftest import add_input, make_job, run_job
from tests.apps.tools.uploads import assert_rejected, hostile_uploads
from tests.conftest import ProgressLog, install_starter

pytestmark = pytest.mark.django_db

URL = "/tools/cyclegan/"


@pytest.fixture(autouse=True)
def fresh_model_cache() -> Iterator[None]:
    """Each test starts with nothing loaded, so "loaded" vs "already loaded" is this test's doing."""
    with mock.patch.object(loading, "_cache", ModelCache(1 << 30)):
        yield


@pytest.fixture
def vintagify() -> ModelVersion:
    """The real starter, installed and active as install_starter_models leaves it."""
    return install_starter("cyclegan", "vintagify", "vintagify")


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32) / 255


def run_tool(photo: Image.Image, **params: Any) -> tuple[ToolOutput, ProgressLog]:
    tool = get_tool("cyclegan")
    assert tool is not None
    recorder = ProgressLog()
    output = tool.run(outside_job({"max_side": 1024, "tile": "auto", **params}, {"photo": png(photo)},
                                  recorder))
    return output, recorder


# --- the form ------------------------------------------------------------------------------------


def _form(**changes: Any) -> dict[str, Any]:
    photo = SimpleUploadedFile("photo.png", png(sample_scene((96, 72))), "image/png")
    data: dict[str, Any] = {"photo": photo, "max_side": 1024, "tile": "auto"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_page_offers_the_form_and_says_it_is_one_direction(alice_client: Client) -> None:
    page = alice_client.get(URL).content.decode()
    assert 'name="photo"' in page and 'name="max_side"' in page and 'name="tile"' in page
    assert "B to A is not offered" in page


def test_it_accepts_good_input(alice_client: Client, apply_async: Any,
                               django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(URL, _form(tile="256", max_side=640))
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert (job.kind, job.params) == ("cyclegan", {"max_side": 640, "tile": "256"})
    assert list(job.files.values_list("field", flat=True)) == ["photo"]
    apply_async.assert_called_once_with(args=[str(job.pk)], queue="gpu", task_id=job.task_id)


@hostile_uploads
def test_it_rejects_a_hostile_photo(alice_client: Client, upload: Any, messages: list[str]) -> None:
    assert_rejected(alice_client, URL, _form(photo=upload()), *messages)


@pytest.mark.parametrize("changes, message", [
    ({"photo": None}, "This field is required."),
    ({"max_side": 63}, "Ensure this value is greater than or equal to 64."),
    ({"max_side": 4097}, "Ensure this value is less than or equal to 4096."),
    ({"tile": "1024"}, "Select a valid choice. 1024 is not one of the available choices."),
])
def test_it_rejects_missing_and_out_of_range_parameters(alice_client: Client, changes: dict[str, Any],
                                                        message: str) -> None:
    assert_rejected(alice_client, URL, _form(**changes), message)


@pytest.mark.parametrize("choice, size, want", [
    ("auto", (2048, 2048), None),  # up to 4 megapixels: one pass
    ("auto", (2049, 2048), 512),
    ("auto", (4096, 1100), 512),
    ("off", (4096, 4096), None),
    ("256", (100, 80), 256),
    ("512", (3000, 2000), 512),
])
def test_tiling_is_chosen_from_the_form_and_the_size(choice: str, size: tuple[int, int],
                                                     want: int | None) -> None:
    assert tile_size(choice, *size) == want


# --- running -------------------------------------------------------------------------------------


def test_without_an_active_model_the_job_fails_saying_what_to_do(alice: Any) -> None:
    job = make_job(alice, kind="cyclegan", params={"max_side": 1024, "tile": "auto"})
    add_input(job, "photo", "photo.png", png(sample_scene((32, 24))))
    run_job(job)
    assert job.state == JobState.FAILED
    assert job.error.startswith("No cyclegan model is active.") and "install_starter_models" in job.error
    assert job.model is None and not job.files.filter(role=JobFile.Role.RESULT).exists()


def test_it_translates_a_photo_with_the_starter_and_records_the_version(vintagify: ModelVersion) -> None:
    photo = sample_scene((128, 96))
    output, recorder = run_tool(photo, max_side=96)  # scaled down to 96x72 first

    [result] = output.files
    assert (result.name, result.content_type) == ("translated.png", "image/png")
    scaled = photo.resize((96, 72), Image.Resampling.LANCZOS)
    got, source = pixels(result.content), pixels(png(scaled))
    assert got.shape == source.shape == (72, 96, 3)
    # The vintage look is mild: clearly changed, yet plainly the same picture.
    change = float(np.abs(got - source).mean())
    correlation = float(np.corrcoef(got.ravel(), source.ravel())[0, 1])
    assert change > 0.03 and correlation > 0.8

    record = read_lineage(result.content)
    assert record["tool"] == "cyclegan" and record["params"] == {"max_side": 96, "tile": "auto"}
    assert record["model"]["sha256"] == vintagify.sha256 and record["model"]["id"] == vintagify.pk
    assert output.model is not None and output.model.version == vintagify
    assert output.summary["size"] == [96, 72] and output.summary["input_size"] == [128, 96]
    assert output.summary["tiles"] == 1 and output.summary["tile"] is None
    assert recorder.updates[0][:2] == (0, 1) and "loaded in" in recorder.updates[0][2]
    assert vintagify.label in recorder.updates[0][2] and recorder.updates[-1][:2] == (1, 1)

    again, recorder = run_tool(photo, max_side=96)
    assert again.model is not None and again.model.cache_hit
    assert "already loaded" in recorder.updates[0][2]
    assert again.files[0].content == result.content  # same model, same photo: same bytes


def test_it_translates_in_tiles_when_asked(vintagify: ModelVersion) -> None:
    photo = sample_scene((320, 96))
    output, recorder = run_tool(photo, tile="256")
    assert pixels(output.files[0].content).shape == (96, 320, 3)
    assert output.summary["tiles"] == 2 and output.summary["tile"] == 256
    assert [u[:2] for u in recorder.updates] == [(0, 2), (1, 2), (2, 2)]
    assert recorder.updates[1][2] == "Tile 1 of 2"
