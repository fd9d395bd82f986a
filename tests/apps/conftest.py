"""Fixtures for the fast unit tests: in-memory channel layer, a throwaway MEDIA_ROOT, Celery never
enqueues, two users with logged-in test clients, and small (sometimes hostile) image files."""

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

from apps.jobs import events
from apps.jobs.models import Job, JobFile, JobState
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
