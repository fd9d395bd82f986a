"""A job attempt's work folder (apps/jobs/workdir.py), on the local-disk storage: a fresh local folder
per attempt, always removed; a training's checkpoint saved to storage under
jobs/<id>/work/training-state.pt when the attempt ends, however it ends, and back in the next
attempt's folder; removed there when the training finished; never written by an attempt that no
longer runs the job; folders that killed attempts left are removed by the next attempt."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.jobs import services
from apps.jobs.models import Job, JobState
from apps.jobs.workdir import LOCK, attempt_workdir, has_training_state, state_key, work_root
from apps.tools.context import TRAINING_STATE
from tests.apps.conftest import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def local_cache(settings: Any, tmp_path: Path) -> Path:
    settings.STUDIO_LOCAL_CACHE_DIR = tmp_path / "cache"
    return tmp_path / "cache"


def running(owner: Any, kind: str = "train-dcgan", attempts: int = 1) -> Job:
    """A job as the runner leaves it when an attempt starts: running, this attempt counted."""
    return make_job(owner, kind=kind, state=JobState.RUNNING, attempts=attempts)


def stored(job: Job) -> bytes | None:
    if not default_storage.exists(state_key(job.pk)):
        return None
    with default_storage.open(state_key(job.pk), "rb") as fh:
        return fh.read()


def test_each_attempt_gets_a_fresh_local_folder_that_is_removed(alice: Any, local_cache: Path) -> None:
    job = running(alice, kind="sleep")
    with attempt_workdir(job) as first:
        assert [p.name for p in first.iterdir()] == [LOCK]  # nothing else: no checkpoint looked for
        assert first.parent == work_root() == local_cache / "work" and first.name.startswith(str(job.pk))
        (first / "scratch.bin").write_bytes(b"x")
    with pytest.raises(RuntimeError), attempt_workdir(job) as second:
        assert second != first
        raise RuntimeError("the tool crashed")
    assert not first.exists() and not second.exists() and list(work_root().iterdir()) == []
    # Not a training: no checkpoint is looked for or kept, whatever the tool leaves in its folder.
    with attempt_workdir(job) as third:
        (third / TRAINING_STATE).write_bytes(b"not kept")
    assert stored(job) is None


def test_a_trainings_checkpoint_goes_to_storage_and_comes_back_in_the_next_attempt(alice: Any) -> None:
    job = running(alice)
    with pytest.raises(KeyboardInterrupt), attempt_workdir(job) as folder:
        (folder / TRAINING_STATE).write_bytes(b"step 3")
        raise KeyboardInterrupt  # any way out: an exception, a cancel, a success
    assert stored(job) == b"step 3" and has_training_state(job.pk)
    assert default_storage.listdir(f"jobs/{job.pk}/work") == ([], [TRAINING_STATE])

    Job.objects.filter(pk=job.pk).update(attempts=2)  # the next attempt, maybe on another machine
    job.refresh_from_db()
    with attempt_workdir(job) as folder:
        assert (folder / TRAINING_STATE).read_bytes() == b"step 3"
        (folder / TRAINING_STATE).write_bytes(b"step 6")
    assert stored(job) == b"step 6"
    # Stopped with a checkpoint: "Resume training" is offered, from storage.
    Job.objects.filter(pk=job.pk).update(state=JobState.CANCELLED)
    job.refresh_from_db()
    assert services.can_resume(job)


def test_a_finished_training_removes_its_stored_checkpoint(alice: Any) -> None:
    job = running(alice)
    default_storage.save(state_key(job.pk), ContentFile(b"step 3"))
    with attempt_workdir(job) as folder:
        (folder / TRAINING_STATE).unlink()  # the tool's last act: the model is in the catalog now
    assert stored(job) is None and not has_training_state(job.pk)
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED)
    job.refresh_from_db()
    assert not services.can_resume(job)


def test_an_attempt_that_no_longer_runs_the_job_writes_nothing(alice: Any) -> None:
    """A worker presumed dead whose job was taken back and given to another attempt."""
    job = running(alice)
    default_storage.save(state_key(job.pk), ContentFile(b"the new attempt's"))
    with attempt_workdir(job) as folder:
        (folder / TRAINING_STATE).write_bytes(b"stale")
        Job.objects.filter(pk=job.pk).update(attempts=2)
    assert stored(job) == b"the new attempt's"
    with attempt_workdir(job) as folder:  # still attempt 1 in memory
        (folder / TRAINING_STATE).unlink()
    assert stored(job) == b"the new attempt's"


def test_folders_left_by_killed_attempts_are_removed_by_the_next_one(alice: Any) -> None:
    """A SIGKILL runs no ``finally``; the kernel still lets go of the dead attempt's lock."""
    root = work_root()
    folders = {name: root / name for name in ("dead", "live", "being-made", "old-unlocked")}
    for name, folder in folders.items():
        folder.mkdir(parents=True)
        (folder / TRAINING_STATE).write_bytes(b"x")
        if name in ("dead", "live"):
            (folder / LOCK).touch()
    (root / "a-file").write_bytes(b"not a folder")
    os.utime(folders["old-unlocked"], (time.time() - 7200, time.time() - 7200))
    held = os.open(folders["live"] / LOCK, os.O_RDWR)  # as another worker process on this machine
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        with attempt_workdir(running(alice, kind="sleep")) as folder:
            assert (folder / LOCK).exists()
    finally:
        os.close(held)
    assert sorted(p.name for p in root.iterdir()) == ["a-file", "being-made", "live"]


@pytest.mark.django_db(transaction=True)  # the sync thread reads the job on its own connection
def test_a_running_training_saves_its_checkpoint_periodically(alice: Any, settings: Any) -> None:
    """For a worker that dies mid-training (no ``finally`` runs): what it saved is in storage."""
    settings.STUDIO_TRAINING_STATE_SYNC_SECONDS = 0.05
    job = running(alice)
    with attempt_workdir(job) as folder:
        (folder / TRAINING_STATE).write_bytes(b"step 200")
        deadline = time.monotonic() + 10
        while stored(job) != b"step 200" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stored(job) == b"step 200"
        (folder / TRAINING_STATE).write_bytes(b"step 400")
    assert stored(job) == b"step 400"
