"""The DCGAN sampling tool: its form (ranges, seeds, each mode's fields), a clear error when no DCGAN
is active, and run() with the real starter faces model: the grid, the single samples, the same
seed giving the same pixels, lineage naming the version, and the latent walk's strip and GIF."""

from __future__ import annotations

import io
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from PIL import Image

from apps.catalog import loading
from apps.catalog.models import ModelVersion
from apps.catalog.services import CatalogError
from apps.jobs.models import Job, JobFile, JobState
from apps.tools.base import OutputFile, ToolError, ToolOutput
from apps.tools.context import outside_job
from apps.tools.dcgan import DCGANForm, DCGANTool
from apps.tools.lineage import read_lineage
from apps.tools.registry import get_tool
from ml.common.model_cache import ModelCache
from ml.common.progress import Cancelled
from ml.dcgan.infer import CHUNK
from tests.apps.conftest import make_job, run_job
from tests.conftest import ProgressLog, install_starter

pytestmark = pytest.mark.django_db


def form(**data: Any) -> DCGANForm:
    f = DCGANForm(data={"mode": "grid", **data})
    f.is_valid()
    return f


# --- the form ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "message"), [
    ("n", 0, "Ensure this value is greater than or equal to 1."),
    ("n", 257, "Ensure this value is less than or equal to 256."),
    ("steps", 1, "Ensure this value is greater than or equal to 2."),
    ("steps", 65, "Ensure this value is less than or equal to 64."),
    ("seed", -1, "Ensure this value is greater than or equal to 0."),
    ("seed_a", -1, "Ensure this value is greater than or equal to 0."),
    ("seed_b", -3, "Ensure this value is greater than or equal to 0."),
    ("seed", 2**31, "Ensure this value is less than or equal to 2147483647."),
    ("n", "many", "Enter a whole number."),
])
def test_the_form_refuses_out_of_range_values(field: str, value: Any, message: str) -> None:
    mode = "walk" if field in ("steps", "seed_a", "seed_b") else "grid"
    f = form(mode=mode, **{field: value})
    assert not f.is_valid()
    assert f.errors == {field: [message]}


def test_the_form_refuses_an_unknown_mode() -> None:
    assert form(mode="train").errors == {
        "mode": ["Select a valid choice. train is not one of the available choices."]}


def test_blank_fields_take_their_defaults_and_params_keep_only_the_modes_fields() -> None:
    tool = DCGANTool()
    grid = form(n="", seed="")
    assert grid.is_valid(), grid.errors
    assert tool.params(grid.cleaned_data) == {"mode": "grid", "n": 64, "seed": 0}
    walk = form(mode="walk", seed_a="4", seed_b="9", steps="", gif="on", n="12")
    assert walk.is_valid(), walk.errors
    expected = {"mode": "walk", "seed_a": 4, "seed_b": 9, "steps": 8, "gif": True}
    assert tool.params(walk.cleaned_data) == expected
    assert tool.params(form(mode="walk").cleaned_data)["gif"] is False  # an unticked box


def test_the_submit_page_says_generated_faces_are_research_output(alice_client: Client) -> None:
    page = alice_client.get("/tools/dcgan/").content.decode()
    assert "research/demo output" in page and 'id="id_mode"' in page and 'id="id_seed_a"' in page


def test_submitting_stores_the_modes_parameters_on_a_gpu_job(
        alice_client: Client, apply_async: mock.MagicMock, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/tools/dcgan/", {"mode": "grid", "n": "16", "seed": "3", "steps": "8"})
    assert response.status_code == 302
    job = Job.objects.get()
    assert (job.kind, job.params) == ("dcgan", {"mode": "grid", "n": 16, "seed": 3})
    assert apply_async.call_args.kwargs["queue"] == "gpu"
    bad = alice_client.post("/tools/dcgan/", {"mode": "grid", "n": "300", "seed": "3"})
    assert bad.status_code == 400 and Job.objects.count() == 1


# --- running -------------------------------------------------------------------------------------


def test_without_an_active_dcgan_it_says_what_to_do() -> None:
    with pytest.raises(CatalogError, match="No dcgan model is active.*install_starter_models"):
        DCGANTool().run(outside_job({"mode": "grid", "n": 4, "seed": 0}))


def test_a_job_without_an_active_dcgan_fails_with_that_message(alice: Any) -> None:
    job = run_job(make_job(alice, kind="dcgan", params={"mode": "grid", "n": 4, "seed": 0}))
    assert job.state == JobState.FAILED and job.error.startswith("No dcgan model is active.")
    assert "install_starter_models" in job.error


def test_stored_parameters_are_checked_again() -> None:
    # A job's stored parameters (an old job rerun, an API client) go through the form once more.
    with pytest.raises(ToolError, match=r"(?s)^Invalid parameters:.*\bn\b.*less than or equal to 256\."):
        DCGANTool().run(outside_job({"mode": "grid", "n": 999, "seed": 0}))


@pytest.fixture
def faces() -> ModelVersion:
    """The real starter: gan-face-generate's faces generator, validated and active; and a fresh
    model cache, so "loaded" and "already loaded" are this test's own."""
    version = install_starter("dcgan", "gan_face_generate", "gan-face-generate")
    with mock.patch.object(loading, "_cache", ModelCache(1 << 30)):
        yield version


def run(params: dict[str, Any], progress: Any = None) -> ToolOutput:
    return DCGANTool().run(outside_job(params, {}, progress))


def by_name(output: ToolOutput) -> dict[str, OutputFile]:
    return {f.name: f for f in output.files}


def pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size, image.convert("RGB").tobytes()


def test_a_grid_of_16_is_4_by_4_with_each_sample_on_its_own(faces: ModelVersion) -> None:
    progress = ProgressLog()
    out = run({"mode": "grid", "n": 16, "seed": 3}, progress)
    files = by_name(out)
    assert list(files) == ["grid.png", *[f"sample-{i:03d}.png" for i in range(16)]]
    assert all(f.content_type == "image/png" for f in out.files)
    assert pixels(files["grid.png"].content)[0] == (2 + 4 * 66, 2 + 4 * 66)
    assert pixels(files["sample-005.png"].content)[0] == (64, 64)
    record = read_lineage(files["grid.png"].content)
    assert record["tool"] == "dcgan" and record["seed"] == 3
    assert record["params"] == {"mode": "grid", "n": 16, "seed": 3}
    assert record["model"]["sha256"] == faces.sha256 and record["model"]["id"] == faces.pk
    single = read_lineage(files["sample-005.png"].content)
    assert single["index"] == 5 and single["model"]["sha256"] == faces.sha256
    assert out.model is not None and out.model.version == faces
    assert out.summary["images"] == 16 and out.summary["nrow"] == 4 and out.summary["singles"] == 16
    assert progress.updates[0][:2] == (0, 16)
    assert progress.updates[0][2].startswith(f"Model {faces.label}: loaded in ")
    assert progress.updates[-1][:2] == (16, 16)


def test_a_single_sample_is_its_cell_of_the_grid(faces: ModelVersion) -> None:
    files = by_name(run({"mode": "grid", "n": 4, "seed": 8}))
    with Image.open(io.BytesIO(files["grid.png"].content)) as grid:
        cell = grid.convert("RGB").crop((2 + 66, 2, 2 + 66 + 64, 2 + 64))  # row 0, column 1
    assert cell.tobytes() == pixels(files["sample-001.png"].content)[1]


def test_the_same_seed_gives_the_same_pixels_and_another_seed_does_not(faces: ModelVersion) -> None:
    progress = ProgressLog()
    first = run({"mode": "grid", "n": 70, "seed": 7})
    again = run({"mode": "grid", "n": 70, "seed": 7}, progress)
    other = run({"mode": "grid", "n": 70, "seed": 8})
    assert "already loaded" in progress.updates[0][2]
    # n=70 is two chunks (64 + 6): chunking must not change a pixel between runs
    assert [step for step, _, _ in progress.updates[1:]] == [CHUNK, 70]
    for name in ("grid.png", "sample-000.png", "sample-019.png"):
        assert pixels(by_name(first)[name].content) == pixels(by_name(again)[name].content)
        assert pixels(by_name(first)[name].content) != pixels(by_name(other)[name].content)


def test_a_large_grid_keeps_at_most_64_single_samples(faces: ModelVersion) -> None:
    out = run({"mode": "grid", "n": 70, "seed": 1})
    names = [f.name for f in out.files]
    assert len(names) == 1 + 64 and names[-1] == "sample-063.png"
    assert pixels(by_name(out)["grid.png"].content)[0] == (2 + 9 * 66, 2 + 8 * 66)  # 9 per row, 8 rows


def test_the_walk_gives_a_strip_and_a_looping_gif(faces: ModelVersion) -> None:
    out = run({"mode": "walk", "seed_a": 3, "seed_b": 11, "steps": 5, "gif": True})
    files = by_name(out)
    assert list(files) == ["walk-strip.png", "walk.gif"]
    strip, gif = files["walk-strip.png"], files["walk.gif"]
    assert (strip.content_type, gif.content_type) == ("image/png", "image/gif")
    assert pixels(strip.content)[0] == (2 + 5 * 66, 2 + 66)
    record = read_lineage(strip.content)
    assert record["seeds"] == [3, 11] and record["model"]["sha256"] == faces.sha256
    with Image.open(io.BytesIO(gif.content)) as image:
        assert image.format == "GIF" and image.n_frames == 2 * 5 - 2  # forward and back
        assert image.info["loop"] == 0 and image.size == (128, 128)
    # The first frame is seed 3's face: the grid's single sample of seed 3 with n=1.
    first_frame = Image.open(io.BytesIO(strip.content)).convert("RGB").crop((2, 2, 66, 66))
    alone = by_name(run({"mode": "grid", "n": 1, "seed": 3}))["sample-000.png"].content
    assert first_frame.tobytes() == pixels(alone)[1]
    assert out.summary == {**out.summary, "mode": "walk", "frames": 5, "seeds": [3, 11]}


def test_the_walk_without_a_gif_gives_the_strip_alone(faces: ModelVersion) -> None:
    out = run({"mode": "walk", "seed_a": 1, "seed_b": 2, "steps": 2, "gif": False})
    assert [f.name for f in out.files] == ["walk-strip.png"]
    assert pixels(out.files[0].content)[0] == (2 + 2 * 66, 2 + 66)


def test_a_grid_job_runs_through_the_runner_and_records_its_model(faces: ModelVersion, alice: Any) -> None:
    job = run_job(make_job(alice, kind="dcgan", params={"mode": "grid", "n": 16, "seed": 3}))
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.model == faces and job.model_sha256 == faces.sha256
    results = list(job.files.filter(role=JobFile.Role.RESULT))
    assert len(results) == 17 and results[0].name == "grid.png"
    assert job.result["model"]["sha256"] == faces.sha256 and job.result["mode"] == "grid"


def test_cancelling_stops_a_large_grid_between_chunks(faces: ModelVersion) -> None:
    progress = ProgressLog(cancel_after=2)  # the model message, then one chunk
    with pytest.raises(Cancelled):
        run({"mode": "grid", "n": 3 * CHUNK, "seed": 0}, progress)
    assert [step for step, _, _ in progress.updates] == [0, CHUNK]


def test_the_tool_is_registered() -> None:
    tool = get_tool("dcgan")
    assert isinstance(tool, DCGANTool) and tool.queue == "gpu"
