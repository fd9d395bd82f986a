"""Fixtures for the fast unit tests: in-memory channel layer, a throwaway MEDIA_ROOT, Celery never
enqueues, two users with logged-in test clients, jobs run in process, and small (sometimes hostile)
image files."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from PIL import Image

from apps.catalog import starters
from apps.jobs import events, runner
from apps.jobs.models import Job, JobFile, JobState
from apps.jobs.reporter import JobReporter
from ml.common.starter import Starter
from tests.conftest import png_bytes

# WhiteNoise warns whenever a handler is built and STATIC_ROOT is missing (tests never collectstatic).
Path(django_settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def memory_layer(settings: Any, tmp_path: Any) -> None:
    """No Redis for pushes, and uploads land in a per-test folder."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def apply_async() -> Iterator[mock.MagicMock]:
    """Celery must not run jobs here; tests that care assert on what would have been sent."""
    with mock.patch("apps.jobs.tasks.run_job.apply_async") as patched:
        yield patched


@pytest.fixture(autouse=True)
def revoke() -> Iterator[mock.MagicMock]:
    """Cancelling a queued job revokes its message; here that must not reach a real broker."""
    with mock.patch("apps.jobs.services._revoke") as patched:
        yield patched


@pytest.fixture(autouse=True, scope="session")
def starters_made_once() -> Iterator[None]:
    """A starter's conversion, previews and example, made once per test run: many tests install the
    same real starters, and making them is seconds each (the 26 fast-style previews, the Gatys
    example). Keyed by the starter as it is (a test that swaps its example for a broken one gets its
    own) and by its file; the install itself (rows, files, validation) runs every time."""
    made: dict[tuple[Any, ...], starters.Made] = {}
    convert = starters._convert

    def once(starter: Starter, path: Path) -> starters.Made:
        key = (starter, str(path), path.stat().st_mtime_ns)
        if key not in made:
            made[key] = convert(starter, path)
        return made[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(starters, "_convert", once)
        yield


def make_job(owner: Any, kind: str = "sleep", state: str = JobState.QUEUED,
             params: dict[str, Any] | None = None, **fields: Any) -> Job:
    """A job as services.submit leaves it (first event: queued), then forced into `state`."""
    job = Job.objects.create(owner=owner, kind=kind, params=params or {"steps": 2, "step_seconds": 0},
                             task_id=fields.pop("task_id", "task-1"), **fields)
    events.record(job, "state", {"state": JobState.QUEUED, "message": "Queued"})
    if state != JobState.QUEUED:
        Job.objects.filter(pk=job.pk).update(state=state)
        job.refresh_from_db()
    return job


def add_file(job: Job, role: str, name: str = "f.png", content: bytes = b"data") -> JobFile:
    job_file = JobFile(job=job, role=role, field="content" if role == JobFile.Role.INPUT else "",
                       name=name, size=len(content))
    job_file.file.save(name, ContentFile(content), save=True)
    return job_file


def add_input(job: Job, field: str, name: str, data: bytes) -> JobFile:
    """An uploaded input of ``job`` for its form field ``field``, as a submit stores it."""
    job_file = JobFile(job=job, role=JobFile.Role.INPUT, field=field, name=name, size=len(data))
    job_file.file.save(name, ContentFile(data), save=True)
    return job_file


def run_job(job: Job, worker: str = "worker-a") -> Job:
    """Run ``job`` in this process as a worker would (no Celery) and return it as it ended."""
    runner.run(str(job.pk), job.task_id, worker)
    job.refresh_from_db()
    return job


def stop_after_reports(monkeypatch: pytest.MonkeyPatch, reports: int) -> None:
    """Make JobReporter.cancelled() true once ``reports`` updates carrying metrics (a training's loss
    reports) have been made: a cancel at a known point. ``monkeypatch.undo()`` ends it."""
    update, made = JobReporter.update, [0]

    def counting(self: JobReporter, step: int, total: int, *args: Any, **kwargs: Any) -> None:
        update(self, step, total, *args, **kwargs)
        if kwargs.get("metrics") or (len(args) > 2 and args[2]):
            made[0] += 1

    monkeypatch.setattr(JobReporter, "update", counting)
    monkeypatch.setattr(JobReporter, "cancelled", lambda self: made[0] >= reports)


@pytest.fixture
def job_with_files(alice: Any) -> tuple[Job, dict[str, JobFile]]:
    job = make_job(alice)
    files = {role: add_file(job, role, f"{role}.png", png_bytes()) for role in JobFile.Role.values}
    return job, files


# Hostile images ---------------------------------------------------------------------------------

def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A ~70-byte 1-bit PNG whose header claims width x height: decoding it would need the full
    canvas, so the size check must happen from the header alone."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    idat = zlib.compress(b"\0" * (1 + (width + 7) // 8))  # one row; the rest is "missing"
    chunks = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def truncated_jpeg() -> bytes:
    img = Image.effect_noise((96, 96), 64).convert("RGB")
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=90)
    data = buffer.getvalue()
    return data[: len(data) // 2]
