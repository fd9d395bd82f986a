"""Training as jobs, through the real runner and a real (dry-run) DCGAN trainer: the form checks the
zip before anything is queued; a job streams metrics (never throttled away) and previews, and ends
with a draft, validated catalog version plus samples, loss chart, history and the checkpoint; a
cancelled training leaves its checkpoint, "Resume training" continues it in a new job (owner only);
a rerun of a resumed job starts afresh."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.test import Client
from PIL import Image

from apps.catalog import services as catalog
from apps.catalog.models import ModelVersion
from apps.jobs import services
from apps.jobs.models import Job, JobFile, JobState
from apps.jobs.workdir import has_training_state, state_key
from apps.tools.lineage import read_lineage
from apps.tools.train_dcgan import TrainDCGANForm, TrainDCGANTool
from tests.apps.conftest import add_input, make_job, run_job, stop_after_reports
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def png(size: tuple[int, int], color: tuple[int, int, int] | str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def image_zip(n: int = 8, size: tuple[int, int] = (40, 30), extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(n):
            archive.writestr(f"set/{i:03d}.png", png(size, (30 * i % 256, 100, 255 - 20 * i % 256)))
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def upload(data: bytes, name: str = "faces.zip") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, "application/zip")


def training_job(owner: Any, zip_bytes: bytes | None = None, **params: Any) -> Job:
    job = make_job(owner, kind="train-dcgan",
                   params={"image_size": 32, "epochs": 2, "dry_run": True, "seed": 3, **params})
    add_input(job, "images", "set.zip", zip_bytes if zip_bytes is not None else image_zip())
    return job


def progress_events(job: Job) -> list[dict[str, Any]]:
    return [e.data for e in job.events.filter(kind="progress")]


def run_on_a_photo(owner: Any, kind: str, params: dict[str, Any], size: tuple[int, int]) -> Job:
    """A job of the tool ``kind`` on a plain photo of ``size``; it must succeed, with a result that size."""
    job = make_job(owner, kind=kind, params=params)
    add_input(job, "photo", "p.png", png(size, (180, 60, 60)))
    run_job(job)
    assert job.state == JobState.SUCCEEDED, job.error
    with job.files.get(role=JobFile.Role.RESULT).file.open("rb") as fh:
        assert Image.open(fh).size == size
    return job


def trained(job: Job) -> list[dict[str, Any]]:
    """Run a training job to success; its loss reports (the progress events with metrics)."""
    run_job(job)
    assert job.state == JobState.SUCCEEDED, job.error
    return [d for d in progress_events(job) if "metrics" in d]


# --- the form ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The submitted file is empty."),
    (b"not a zip at all", "not a zip file"),
    (image_zip(0, extra={"readme.txt": b"hello"}), "the only file is not an image"),
])
def test_the_form_refuses_a_bad_zip_before_anything_is_queued(data: bytes, message: str) -> None:
    form = TrainDCGANForm(data={"image_size": 32}, files={"images": upload(data)})
    assert not form.is_valid()
    assert message in form.errors["images"][0]


def test_the_form_refuses_a_zip_bomb() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.png", b"\0" * 50_000_000)
    form = TrainDCGANForm(data={"image_size": 32}, files={"images": upload(buffer.getvalue())})
    assert not form.is_valid()
    [error] = form.errors["images"]
    assert error.startswith("faces.zip: zip bomb: a.png would unpack to 50,000,000 bytes (ratio ")
    assert error.endswith(":1, limit 100:1)")


def test_blank_settings_take_their_defaults() -> None:
    form = TrainDCGANForm(data={"image_size": 64}, files={"images": upload(image_zip(2))})
    assert form.is_valid(), form.errors
    params = TrainDCGANTool().params(form.cleaned_data)
    assert params["epochs"] == 5 and params["batch_size"] == 64 and params["seed"] == 0
    assert params["image_size"] == 64 and params["dry_run"] is False and "images" not in params


def test_submitting_queues_a_training_job(client: Client, alice: Any) -> None:
    client.login(username="alice", password=PASSWORD)
    data = image_zip(4)
    response = client.post("/tools/train-dcgan/", {"images": upload(data), "image_size": 32,
                                                   "epochs": 1, "dry_run": "on"})
    job = Job.objects.get(owner=alice)
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.kind == "train-dcgan" and job.state == JobState.QUEUED
    assert (job.params["image_size"], job.params["epochs"], job.params["dry_run"]) == (32, 1, True)
    images = job.files.get(role=JobFile.Role.INPUT)
    assert images.field == "images" and images.file.read() == data  # the zip as uploaded


# --- a training job ------------------------------------------------------------------------------


def test_a_training_job_streams_metrics_and_registers_a_draft_version(alice: Any) -> None:
    job = training_job(alice, name="my shapes")
    reports = trained(job)
    # Dry run: 2 steps per epoch, 2 epochs, a report every step; none may be throttled away.
    assert [d["step"] for d in reports] == [1, 2, 3, 4]
    assert set(reports[-1]["metrics"]) == {"loss_d", "loss_g", "d_x", "d_g_z"}
    assert any(d.get("preview", "").startswith(f"/jobs/{job.pk}/files/") for d in progress_events(job))

    version = ModelVersion.objects.get(family="dcgan")
    assert (version.status, version.validation, version.source) == ("draft", "valid", "trained")
    assert version.name == "my shapes" and version.created_by == alice
    assert version.source_ref == f"job:{job.pk}" and version.metrics["steps"] == 4
    assert version.previews.count() == 1 and "4 steps" in version.description
    assert job.result["trained"]["label"] == version.label
    assert job.result["steps"] == 4 and job.result["resumed_from"] == 0

    files = {f.name: f for f in job.files.filter(role=JobFile.Role.RESULT)}
    assert set(files) == {"samples.png", "loss-chart.png", "history.json", f"dcgan-v{version.version}.pt"}
    with files["samples.png"].file.open("rb") as fh:
        assert read_lineage(fh.read())["trained"]["sha256"] == version.sha256
    with files["history.json"].file.open("rb") as fh:
        assert [h["step"] for h in json.load(fh)] == [1, 2, 3, 4]
    assert files[f"dcgan-v{version.version}.pt"].size == version.size
    # Finished: no training checkpoint left to resume.
    assert not has_training_state(job.pk)
    assert not services.can_resume(job)


def test_a_bad_zip_fails_the_job_with_its_reason(alice: Any) -> None:
    job = run_job(training_job(alice, zip_bytes=b"garbage"))
    assert job.state == JobState.FAILED
    assert job.error == "Training images: not a zip file"
    assert not ModelVersion.objects.exists()


def test_skipped_files_are_named_in_the_log(alice: Any) -> None:
    job = run_job(training_job(alice, zip_bytes=image_zip(4, extra={"notes.txt": b"x"})))
    logs = [e.data["message"] for e in job.events.filter(kind="log")]
    assert any("4 images used, 1 files skipped: notes.txt" in line for line in logs), logs


def test_a_cancelled_training_resumes_in_a_new_job(alice: Any, client: Client, monkeypatch: Any) -> None:
    stop_after_reports(monkeypatch, 2)
    job = run_job(training_job(alice, epochs=3))
    assert job.state == JobState.CANCELLED
    assert services.can_resume(job) and not ModelVersion.objects.exists()
    monkeypatch.undo()

    client.login(username="alice", password=PASSWORD)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="resume"' in page
    response = client.post(f"/jobs/{job.pk}/resume/")
    resumed = Job.objects.exclude(pk=job.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{resumed.pk}/"
    assert resumed.params["resume_from"] == str(job.pk)
    steps = [d["step"] for d in trained(resumed)]
    assert resumed.result["resumed_from"] == 2 and resumed.result["steps"] == 6
    assert steps == [3, 4, 5, 6]
    # The chart carries on: the first event holds the earlier job's points.
    carried = progress_events(resumed)[0]
    assert [step for step, _ in carried["history"]] == [1, 2]
    assert set(carried["history"][0][1]) == {"loss_d", "loss_g", "d_x", "d_g_z"}
    assert ModelVersion.objects.get().metrics["steps"] == 6

    # "Run again" of the resumed job trains from scratch.
    rerun = services.rerun(resumed, TrainDCGANTool())
    assert rerun.params == {k: v for k, v in resumed.params.items() if k != "resume_from"}


def test_another_user_cannot_resume_or_see_it(alice: Any, bob: Any, client: Client) -> None:
    job = training_job(alice)
    Job.objects.filter(pk=job.pk).update(state=JobState.CANCELLED)
    default_storage.save(state_key(job.pk), ContentFile(b"x"))
    client.login(username="bob", password=PASSWORD)
    assert client.post(f"/jobs/{job.pk}/resume/").status_code == 404
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert Job.objects.count() == 1 and has_training_state(job.pk)  # no new job; the checkpoint kept


def test_resume_needs_a_checkpoint(alice: Any, client: Client) -> None:
    job = training_job(alice)
    Job.objects.filter(pk=job.pk).update(state=JobState.CANCELLED)
    client.login(username="alice", password=PASSWORD)
    assert client.post(f"/jobs/{job.pk}/resume/").status_code == 404
    assert 'id="resume"' not in client.get(f"/jobs/{job.pk}/").content.decode()


def test_a_worker_retry_continues_from_the_periodic_checkpoint(alice: Any, monkeypatch: Any) -> None:
    """A worker that died mid-training: the broker redelivers, the runner runs the job again, and
    training picks up the checkpoint in the job's work folder instead of starting over."""
    job = training_job(alice, epochs=3)
    # The first attempt stops after 3 steps, saving its checkpoint as on any stop.
    stop_after_reports(monkeypatch, 3)
    run_job(job)
    monkeypatch.undo()
    # As a lost worker leaves it: still "running"; the redelivered message runs it again.
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, cancel_requested_at=None, finished_at=None)
    run_job(job, worker="worker-b")
    assert job.state == JobState.SUCCEEDED, job.error
    assert job.result["resumed_from"] == 3 and job.result["steps"] == 6 and job.worker == "worker-b"
    assert ModelVersion.objects.get().metrics["steps"] == 6


# --- trained versions can be activated and used --------------------------------------------------


def test_a_trained_dcgan_activates_and_samples(alice: Any) -> None:
    trained(training_job(alice, ngf=16, ndf=16))
    version = ModelVersion.objects.get(family="dcgan")
    catalog.activate(version)
    sample = run_job(make_job(alice, kind="dcgan", params={"mode": "grid", "n": 4, "seed": 1}))
    assert sample.state == JobState.SUCCEEDED, sample.error
    assert sample.model == version and sample.model_sha256 == version.sha256
    grid = sample.files.get(name="grid.png")
    with grid.file.open("rb") as fh:
        assert Image.open(fh).size == (2 + 2 * 34, 2 + 2 * 34)  # 32 px images, 2x2 with borders


def cyclegan_job(owner: Any, **params: Any) -> Job:
    job = make_job(owner, kind="train-cyclegan", params={
        "image_size": 32, "n_blocks": 1, "ngf": 8, "ndf": 8, "epochs": 1, "epochs_decay": 1,
        "dry_run": True, "seed": 5, **params})
    for field, size in (("images_a", (48, 40)), ("images_b", (40, 48))):
        add_input(job, field, f"{field}.zip", image_zip(4, size=size))
    return job


def test_a_cyclegan_training_job_registers_a_draft_that_translates(alice: Any) -> None:
    reports = trained(cyclegan_job(alice, name="red to blue"))
    assert [d["step"] for d in reports] == [1, 2, 3, 4]
    assert {"loss_g_a", "loss_d_b", "loss_cycle_a", "loss_idt_b", "lr"} <= set(reports[-1]["metrics"])
    version = ModelVersion.objects.get(family="cyclegan")
    assert (version.status, version.validation, version.name) == ("draft", "valid", "red to blue")
    assert version.config["n_blocks"] == 1 and version.config["ngf"] == 8

    catalog.activate(version)
    assert run_on_a_photo(alice, "cyclegan", {"max_side": 64, "tile": "auto"}, (50, 30)).model == version


def test_the_cyclegan_form_wants_both_zips_and_a_multiple_of_four() -> None:
    from apps.tools.train_cyclegan import TrainCycleGANForm

    form = TrainCycleGANForm(data={"image_size": 34}, files={"images_a": upload(image_zip(2))})
    assert not form.is_valid()
    assert form.errors == {"images_b": ["This field is required."],
                           "image_size": ["Use a multiple of 4 (the generator halves the size twice)."]}


def fast_style_job(owner: Any, content: bytes | None = None, **params: Any) -> Job:
    job = make_job(owner, kind="train-fast-style", params={
        "style_name": "stripes", "steps": 2, "dry_run": True, "seed": 1, **params})
    inputs = {"style": png((64, 48), (250, 40, 90)), **({"content": content} if content is not None else {})}
    for field, data in inputs.items():
        add_input(job, field, f"{field}.bin", data)
    return job


@pytest.mark.parametrize("content", [None, image_zip(4, size=(60, 50))], ids=["bundled photos", "a zip"])
def test_a_fast_style_training_job_registers_a_style_the_fast_style_tool_uses(alice: Any,
                                                                              content: bytes | None) -> None:
    from tests.conftest import install_feature_network

    features = install_feature_network()
    job = fast_style_job(alice, content=content, name="pink")
    reports = trained(job)
    assert reports and set(reports[-1]["metrics"]) == {"content", "style", "tv", "total"}
    version = ModelVersion.objects.get(family="fast-style")
    assert (version.status, version.validation) == ("draft", "valid")
    assert version.config["styles"] == ["stripes"] and version.config["kind"] == "transformer-net"
    assert features.label in job.events.filter(kind="progress").first().data["message"]

    catalog.activate(version)
    params = {"styles": {"stripes": 1.0}, "max_side": 64, "preserve_colors": False}
    assert run_on_a_photo(alice, "fast-style", params, (40, 32)).model == version


def test_fast_style_training_needs_a_feature_network(alice: Any) -> None:
    job = run_job(fast_style_job(alice))
    assert job.state == JobState.FAILED and job.error.startswith("No style-features model is active.")


def test_the_style_name_defaults_to_the_files_name() -> None:
    from apps.tools.train_fast_style import TrainFastStyleForm, TrainFastStyleTool

    upload = SimpleUploadedFile("Water Lilies.png", png((20, 20), "red"))
    form = TrainFastStyleForm(data={}, files={"style": upload})
    assert form.is_valid(), form.errors
    params = TrainFastStyleTool().params(form.cleaned_data)
    assert params["style_name"] == "Water Lilies" and params["steps"] == 1000 and "content" not in params


def test_the_form_refuses_a_zip_of_10000_tiny_files() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(10_000):
            archive.writestr(f"tiny/{i:05d}.png", b"\x89PNG")
    form = TrainDCGANForm(data={}, files={"images": upload(buffer.getvalue())})
    assert not form.is_valid()
    assert "too many files: 10,000 (limit 5,000)" in form.errors["images"][0]


def test_images_of_wildly_different_sizes_train(alice: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i, size in enumerate([(1, 1), (3000, 12), (12, 3000), (640, 480), (7, 5), (33, 900)]):
            archive.writestr(f"{i}.png", png(size, (40 * i, 90, 200)))
    job = training_job(alice, zip_bytes=buffer.getvalue(), resize_mode="pad")
    trained(job)
    assert job.result["images"] == 6


def test_a_zip_over_the_training_upload_limit_is_refused(settings: Any) -> None:
    settings.STUDIO_MAX_TRAINING_UPLOAD_BYTES = 1000
    data = image_zip(8, size=(64, 64))
    form = TrainDCGANForm(data={}, files={"images": upload(data)})
    assert not form.is_valid()
    assert form.errors["images"] == [f"faces.zip is {filesizeformat(len(data))}; the limit is 1000\xa0bytes."]
