"""manage.py purge_job_files on the local-disk storage (apps/jobs/purge.py): jobs finished more than
the retention ago lose their files (objects and rows) and their training checkpoint, the job rows
stay; objects under jobs/ of no job go once an hour old; recent and running jobs keep everything;
catalog files are never touched; --dry-run removes nothing; the command says what it removed."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from apps.catalog.models import ModelPreview, ModelVersion
from apps.jobs.models import Job, JobFile, JobState
from apps.jobs.purge import purge_job_files
from apps.jobs.workdir import state_key
from tests.apps.conftest import add_file, make_job

pytestmark = pytest.mark.django_db


def finished(owner: Any, days_ago: float, state: str = JobState.SUCCEEDED) -> Job:
    job = make_job(owner, state=state)
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=days_ago))
    job.refresh_from_db()
    return job


def with_files(job: Job, size: int = 100) -> Job:
    add_file(job, JobFile.Role.INPUT, "in.png", b"i" * size)
    add_file(job, JobFile.Role.RESULT, "out.png", b"o" * size)
    return job


def aged(name: str, hours: float) -> str:
    """Make the stored file ``name`` look ``hours`` old."""
    when = time.time() - hours * 3600
    os.utime(default_storage.path(name), (when, when))
    return name


def stored_names() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def scene(alice: Any) -> dict[str, Any]:
    """Jobs old and new, a stopped training's checkpoint, orphans old and new, a catalog version."""
    old = with_files(finished(alice, 31))
    old_training = finished(alice, 40, JobState.CANCELLED)
    default_storage.save(state_key(old_training.pk), ContentFile(b"s" * 50))
    recent = with_files(finished(alice, 29, JobState.FAILED))
    running = with_files(make_job(alice, state=JobState.RUNNING))
    gone = "00000000-0000-0000-0000-000000000000"
    orphans = [aged(default_storage.save(f"jobs/{gone}/result/x.png", ContentFile(b"x" * 7)), 2),
               aged(default_storage.save(f"jobs/{recent.pk}/result/leftover.png", ContentFile(b"y" * 3)), 2)]
    # A submit's file whose row has not committed yet: kept for now.
    fresh = default_storage.save(f"jobs/{gone}/input/uploading.png", ContentFile(b"z"))
    version = ModelVersion(family="dcgan", version=1, name="kept")
    version.checkpoint.save("kept.pt", ContentFile(b"weights"), save=True)
    preview = ModelPreview(version=version, label="p")
    preview.image.save("p.jpg", ContentFile(b"jpeg"), save=True)
    return {"old": old, "old_training": old_training, "recent": recent, "running": running,
            "orphans": orphans, "fresh": fresh, "catalog": {version.checkpoint.name, preview.image.name}}


def test_old_jobs_lose_their_files_and_orphans_go(scene: dict[str, Any]) -> None:
    old, old_training = scene["old"], scene["old_training"]
    before = stored_names()
    report = purge_job_files(30)
    gone = {f"jobs/{old.pk}/input/in.png", f"jobs/{old.pk}/result/out.png", state_key(old_training.pk),
            *scene["orphans"]}
    assert stored_names() == before - gone
    assert (report.expired.objects, report.expired.bytes, report.expired.rows) == (3, 250, 2)
    assert report.expired.jobs == 2  # the old job and the old training
    assert (report.orphans.objects, report.orphans.bytes, report.orphans.jobs) == (2, 10, 2)
    # The job rows stay (history, lineage); only their files went. The others keep theirs.
    assert Job.objects.count() == 4 and not JobFile.objects.filter(job=old).exists()
    assert JobFile.objects.filter(job__in=[scene["recent"], scene["running"]]).count() == 4
    assert scene["catalog"] <= stored_names() and scene["fresh"] in stored_names()
    assert not (Path(settings.MEDIA_ROOT) / "jobs" / str(old.pk)).exists()  # no empty folders left
    # Nothing is left to remove.
    again = purge_job_files(30)
    assert (again.expired.objects, again.expired.rows, again.orphans.objects) == (0, 0, 0)


def test_a_dry_run_removes_nothing(scene: dict[str, Any]) -> None:
    before, rows = stored_names(), JobFile.objects.count()
    report = purge_job_files(30, dry_run=True)
    assert (report.expired.objects, report.expired.rows, report.orphans.objects) == (3, 2, 2)
    assert stored_names() == before and JobFile.objects.count() == rows


def test_the_command_says_what_it_removed(scene: dict[str, Any], settings: Any) -> None:
    settings.STUDIO_JOB_FILE_RETENTION_DAYS = 30
    out = io.StringIO()
    call_command("purge_job_files", "--dry-run", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"the local disk at {settings.MEDIA_ROOT}: jobs finished before ")
    assert lines[0].endswith(" (30 days)")
    assert lines[1:] == ["  old jobs: would remove 3 files (250 bytes) and 2 file rows of 2 jobs",
                         "  orphans:  would remove 2 objects (10 bytes) under jobs/ of 2 folders",
                         "  in all:   would remove 5 objects, 260 bytes"]
    out = io.StringIO()
    call_command("purge_job_files", "--days", "35", stdout=out)  # only the 40-day-old training
    removed = out.getvalue().splitlines()[1]
    assert removed == "  old jobs: removed 1 files (50 bytes) and 0 file rows of 1 jobs"
    assert not default_storage.exists(state_key(scene["old_training"].pk))
