"""A job attempt's work folder: a fresh local folder per attempt, on the worker's own disk.

A training keeps its checkpoint there (apps.tools.context.TRAINING_STATE). Workers share no disk, so
the checkpoint lives in storage between attempts, under ``jobs/<id>/work/training-state.pt``:
downloaded into the folder when an attempt starts, uploaded when it ends (however it ends) and,
while it runs, every STUDIO_TRAINING_STATE_SYNC_SECONDS when it changed, so a worker that dies
loses at most that much training. A training that finished (its tool removes the checkpoint: the
model is in the catalog) has its stored one removed too. The folder itself always goes. Only the
job's latest attempt writes (job.attempts is its number): one whose job was taken back from a worker
presumed dead must not overwrite the checkpoint of the attempt that replaced it.

A resumed job reads the earlier job's checkpoint with ``download_training_state``, when its tool
asks (apps/jobs/context.py StoredJob).

Only a training tool keeps a checkpoint, so only its attempts look for one in storage: the other
jobs get an empty folder and cost no storage request.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import connection

from apps.tools.context import TRAINING_STATE
from apps.tools.registry import get_tool

from .models import Job, JobState

log = logging.getLogger(__name__)


def state_key(job_id: Any) -> str:
    """Where a job's training checkpoint is stored between its attempts."""
    return f"jobs/{job_id}/work/{TRAINING_STATE}"


def work_root() -> Path:
    """The local folder that holds this machine's attempt folders."""
    return Path(settings.STUDIO_LOCAL_CACHE_DIR) / "work"


def _storage() -> Storage:
    # The "work" storage is the default one whose saves replace a file of the same name.
    return storages["work"]


def has_training_state(job_id: Any) -> bool:
    """Whether the job left a training checkpoint in storage (what "Resume training" continues)."""
    return _storage().exists(state_key(job_id))


def download_training_state(job_id: Any, target: Path) -> bool:
    """Copy job ``job_id``'s stored training checkpoint to ``target``; False when it has none."""
    try:
        source = _storage().open(state_key(job_id), "rb")
    except FileNotFoundError:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
    return True


@contextmanager
def attempt_workdir(job: Job) -> Iterator[Path]:
    """A new local folder for one attempt of ``job``, with the training checkpoint its earlier
    attempts saved; on the way out the checkpoint is saved to storage (or removed there, when the
    training finished) and the folder removed."""
    root = work_root()
    root.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(root)
    folder = Path(tempfile.mkdtemp(prefix=f"{job.pk}-", dir=root))
    lock = _lock(folder)
    sync: _StateSync | None = None
    try:
        tool = get_tool(job.kind)
        if tool is not None and tool.trains:
            state = folder / TRAINING_STATE
            sync = _StateSync(job, state, stored=download_training_state(job.pk, state))
            sync.start()
        yield folder
    finally:
        try:
            if sync is not None:
                sync.finish()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            os.close(lock)


LOCK = ".attempt.lock"
NEW_FOLDER_GRACE_S = 3600  # a folder without its lock file yet is being made; unless it is this old


def _lock(folder: Path) -> int:
    """Hold a lock on ``folder`` while the attempt runs. The kernel lets go of it when the process
    ends, however it ends, so an unheld lock marks a folder whose attempt is gone."""
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _remove_leftovers(root: Path) -> None:
    """Remove the folders of attempts that are gone without removing them: a SIGKILL (from the
    cancel watchdog or the kernel) runs no ``finally``. Other worker processes on this machine
    hold the locks of the folders they use."""
    for folder in root.iterdir():
        try:
            fd = os.open(folder / LOCK, os.O_RDWR)
        except FileNotFoundError:
            try:
                if time.time() - folder.stat().st_mtime > NEW_FOLDER_GRACE_S:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                pass  # its attempt ended meanwhile
            continue
        except NotADirectoryError:
            continue  # not an attempt folder
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live attempt's
        else:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(fd)


def _stamp(path: Path) -> tuple[int, int] | None:
    """What tells one version of the checkpoint from the next (trainers replace it whole)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


class _StateSync:
    """Keeps the stored checkpoint of one attempt up to date: a thread uploads it when it changed,
    every STUDIO_TRAINING_STATE_SYNC_SECONDS, and ``finish`` does the last upload (or removal)."""

    def __init__(self, job: Job, state: Path, stored: bool) -> None:
        self.job_id, self.attempt = job.pk, job.attempts
        self.key = state_key(job.pk)
        self.state = state
        self.stored = stored  # storage holds a checkpoint of this job
        self.synced = _stamp(state) if stored else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"state-sync-{job.pk}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(settings.STUDIO_TRAINING_STATE_SYNC_SECONDS):
            try:
                self._upload_if_changed()
            except Exception:  # the next round, or the final upload, tries again
                log.warning("saving the training checkpoint %s failed", self.key, exc_info=True)
            finally:
                connection.close()  # this thread's own; it is quiet until the next round

    def _owned(self) -> bool:
        """Whether the job still runs this attempt, as every other write of an attempt is fenced
        (apps/jobs/events.py): once the sweep has taken it back, not even while it waits queued."""
        return Job.objects.filter(pk=self.job_id, attempts=self.attempt, state=JobState.RUNNING).exists()

    def _upload_if_changed(self) -> None:
        stamp = _stamp(self.state)
        if stamp is None or stamp == self.synced:
            return
        if not self._owned():
            log.warning("job %s: attempt %s no longer runs it; its checkpoint is not saved",
                        self.job_id, self.attempt)
            return
        with open(self.state, "rb") as fh:
            saved = _storage().save(self.key, File(fh))
        if saved != self.key:  # the "work" storage overwrites; anything else is a misconfiguration
            raise RuntimeError(f"the training checkpoint was stored as {saved!r}, not {self.key!r}")
        self.synced, self.stored = stamp, True

    def finish(self) -> None:
        """The attempt is over: the checkpoint to storage, or, when the training finished and
        removed it, its stored copy removed. A failure here is logged, never raised: it must not
        turn the attempt's own outcome (a result, a cancel) into an error."""
        self._stop.set()
        self._thread.join()
        try:
            if self.state.exists():
                self._upload_if_changed()
            elif self.stored and self._owned():
                _storage().delete(self.key)
                self.stored = False
        except Exception:
            log.exception("saving the training checkpoint %s at the end of the attempt failed", self.key)
