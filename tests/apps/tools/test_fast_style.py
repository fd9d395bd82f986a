"""The fast style tool: its form checks style names and weights against the active catalog version
(a 400 that says what is wrong, and no job), its page shows the styles' previews as a picker, and
its run() repaints a photo with the real 26-style starter model, recording which model it used."""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from apps.catalog.models import ModelVersion
from apps.jobs.models import Job
from apps.tools.context import outside_job
from apps.tools.lineage import read_lineage
from apps.tools.registry import get_tool
from ml.common.sample_scene import sample_scene
from tests.apps.tools.fast_style_starter import GLOW, STARRY, install_fast_style_starter, photo_bytes
from tests.apps.tools.uploads import assert_rejected, hostile_uploads
from tests.conftest import ProgressLog

pytestmark = pytest.mark.django_db

URL = "/tools/fast-style/"


@pytest.fixture
def fast_style() -> ModelVersion:
    return install_fast_style_starter()


@pytest.fixture
def fast_style_names() -> ModelVersion:
    """The starter without its 26 preview files: the form needs only its style names."""
    return install_fast_style_starter(previews=False)


def _form(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"photo": SimpleUploadedFile("photo.png", photo_bytes(), "image/png"),
                            "style": STARRY, "blend": "", "max_side": 128}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# The form --------------------------------------------------------------------------------------


def test_it_queues_a_preset_on_the_gpu_queue(fast_style: ModelVersion, alice_client: Client, apply_async: Any,
                                            django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(URL, _form(preserve_colors="on"))
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.kind == "fast-style"
    assert job.params == {"styles": {STARRY: 1.0}, "max_side": 128, "preserve_colors": True}
    assert list(job.files.values_list("field", flat=True)) == ["photo"]
    apply_async.assert_called_once_with(args=[str(job.pk)], queue="gpu", task_id=job.task_id)


def test_a_blend_is_stored_with_the_catalog_names(fast_style: ModelVersion, alice_client: Client) -> None:
    # Case and spacing do not matter; a bare name weighs 1; a zero weight is allowed beside others.
    response = alice_client.post(URL, _form(
        style="", blend=" Swirling  Starry Blue=3, NIGHT GLOW , grey charcoal=0"))
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Job.objects.get().params["styles"] == {STARRY: 3.0, GLOW: 1.0, "grey charcoal": 0.0}


@pytest.mark.parametrize("changes, messages", [
    ({"style": "", "blend": "starry night=1"},
     ["Unknown style &#x27;starry night&#x27;. The styles are: sandy pastel, bold yellow outlines"]),
    ({"style": "", "blend": f"{STARRY}=0.5, {GLOW}=-0.5"},
     ["The weight of &#x27;night glow&#x27; must be a number of 0 or more, not -0.5."]),
    ({"style": "", "blend": f"{STARRY}=0, {GLOW}=0"},
     ["All the weights are zero: give at least one style a weight above 0."]),
    ({"style": "", "blend": f"{STARRY}=lots"}, ["the weight must be a number"]),
    ({"style": "", "blend": f"{STARRY}=nan"}, ["must be a number of 0 or more, not nan"]),
    ({"style": "", "blend": f"{STARRY}=1, {STARRY.upper()}=2"}, ["is named twice"]),
    ({"style": "", "blend": " , "}, ["The blend names no style."]),
    ({"style": "", "blend": ""}, ["Choose a style (click a preview) or write a blend."]),
    ({"blend": f"{GLOW}=1"}, ["Choose one style or a blend, not both"]),
    ({"style": "starry night"}, ["Select a valid choice. starry night is not one of the available choices."]),
    ({"max_side": 63}, ["Ensure this value is greater than or equal to 64."]),
    ({"max_side": 2049}, ["Ensure this value is less than or equal to 2048."]),
    ({"photo": None}, ["This field is required."]),
])
def test_it_rejects_bad_styles_and_parameters(fast_style_names: ModelVersion, alice_client: Client,
                                              changes: dict[str, Any], messages: list[str]) -> None:
    assert_rejected(alice_client, URL, _form(**changes), *messages)


@hostile_uploads
def test_it_rejects_a_hostile_photo(alice_client: Client, upload: Any, messages: list[str]) -> None:
    # The photo is checked whether or not a model is installed: no starter needed (it is slow).
    assert_rejected(alice_client, URL, _form(photo=upload()), *messages)


def test_without_an_active_version_it_says_an_admin_must_install_the_starters(alice_client: Client) -> None:
    page = alice_client.get(URL)
    assert page.status_code == 200
    assert 'id="no-model"' in page.content.decode()
    assert "An admin must install the starter models" in page.content.decode()

    assert_rejected(alice_client, URL, _form(), "No fast-style model is installed",
                    "An admin must install the starter models (manage.py install_starter_models)")


# The submit page -------------------------------------------------------------------------------


def test_the_page_shows_each_style_as_a_clickable_preview(fast_style: ModelVersion,
                                                          alice_client: Client) -> None:
    response = alice_client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="no-model"' not in page and "js/fast_style.js" in page and 'id="blend-mode"' in page
    picks = re.findall(r'<button type="button" class="style-pick" data-style="([^"]+)"', page)
    assert picks == fast_style.config["styles"] and len(picks) == 26
    sources = re.findall(r'<img src="(/catalog/previews/\d+/)" alt="([^"]+)"', page)
    assert [alt for _, alt in sources] == picks
    assert [src for src, _ in sources] == [f"/catalog/previews/{p.pk}/" for p in fast_style.previews.all()]
    image = alice_client.get(sources[0][0])
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(image.streaming_content))).size == (160, 120)  # type: ignore[attr-defined]
    # The select offers the same names, the first picked, so a plain submit runs a preset.
    assert f'<option value="{picks[0]}" selected>' in page
    assert '<option value="">a blend (below)</option>' in page
    assert fast_style.label in page


# run(), in process, with the real starter ------------------------------------------------------


def run_tool(styles: dict[str, float], *, max_side: int = 64, preserve_colors: bool = False,
             photo: bytes | None = None) -> tuple[Image.Image, dict[str, Any], Any, ProgressLog]:
    tool = get_tool("fast-style")
    assert tool is not None
    params = {"styles": styles, "max_side": max_side, "preserve_colors": preserve_colors}
    recorder = ProgressLog()
    output = tool.run(outside_job(params, {"photo": photo or photo_bytes()}, recorder))
    [result] = output.files
    assert result.name == "fast-style.png" and result.content_type == "image/png"
    image = Image.open(io.BytesIO(result.content))
    image.load()
    return image.convert("RGB"), read_lineage(result.content), output, recorder


def test_run_repaints_the_photo_and_records_the_model(fast_style: ModelVersion) -> None:
    image, record, output, recorder = run_tool({STARRY: 1.0}, max_side=64)

    assert image.size == (64, 48)  # 96x72 scaled to a longest side of 64
    assert record["tool"] == "fast-style" and record["params"]["styles"] == {STARRY: 1.0}
    assert record["model"]["sha256"] == fast_style.sha256 and record["model"]["id"] == fast_style.pk
    assert output.model.version == fast_style
    assert output.summary["styles"] == {STARRY: 1.0} and output.summary["size"] == [64, 48]
    assert output.summary["seconds"] > 0
    (s0, t0, m0), (s1, t1, m1) = recorder.updates
    assert (s0, t0) == (0, 1) and m0.startswith(f"Model {fast_style.label}: ")
    assert (s1, t1) == (1, 1) and m1.startswith("Stylized 64x48 in ")
    p0, p1 = recorder.previews
    assert p0 is None and p1 is not None and p1.size == (64, 48)
    # The preview is the result itself, not an intermediate picture.
    assert np.array_equal(np.asarray(p1.convert("RGB")), np.asarray(image))

    again = run_tool({STARRY: 1.0}, max_side=64)
    assert again[2].model.cache_hit  # the worker keeps the model: the second job skips loading
    assert "already loaded" in again[3].updates[0][2]


def test_a_blend_differs_from_each_of_its_styles(fast_style: ModelVersion) -> None:
    starry = np.asarray(run_tool({STARRY: 1.0})[0], dtype=np.float32)
    glow = np.asarray(run_tool({GLOW: 1.0})[0], dtype=np.float32)
    blend, record, output, _ = run_tool({STARRY: 1.0, GLOW: 1.0})
    mixed = np.asarray(blend, dtype=np.float32)

    assert np.abs(starry - glow).mean() > 10  # two different styles, to begin with
    assert np.abs(mixed - starry).mean() > 5 and np.abs(mixed - glow).mean() > 5
    assert record["params"]["styles"] == {STARRY: 1.0, GLOW: 1.0}
    assert output.summary["styles"] == {STARRY: 1.0, GLOW: 1.0}


def _chroma(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("YCbCr"), dtype=np.float32)[..., 1:]


def test_preserve_colors_keeps_the_photos_chroma(fast_style: ModelVersion) -> None:
    photo = sample_scene((96, 72))
    target = _chroma(photo.resize((64, 48), Image.Resampling.LANCZOS))
    kept = _chroma(run_tool({STARRY: 1.0}, preserve_colors=True)[0])
    repainted = _chroma(run_tool({STARRY: 1.0}, preserve_colors=False)[0])

    kept_error, repainted_error = np.abs(kept - target).mean(), np.abs(repainted - target).mean()
    assert kept_error < 3 and repainted_error > 4 * kept_error


def test_a_style_the_active_version_lacks_fails_the_job_in_words(fast_style: ModelVersion) -> None:
    # E.g. an admin switched the active version between submit and run: the runner turns a
    # ValueError into a failed job showing this message.
    with pytest.raises(ValueError, match="unknown style 'gone'; known: sandy pastel"):
        run_tool({"gone": 1.0})
