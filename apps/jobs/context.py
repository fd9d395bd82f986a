"""The RunContext a job's tool gets (apps/tools/context.py), read from the Job row, its files and
events. Tools never read those themselves: apps.tools does not import apps.jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from apps.tools.context import CONTINUE_FROM, RESUME_FROM, TRAINING_STATE, LossPoint, RunContext

from .models import Job, JobEvent, JobFile
from .reporter import JobReporter
from .workdir import download_training_state

# The earlier job's training checkpoint, downloaded into this attempt's folder beside the job's own.
EARLIER_STATE = "earlier-" + TRAINING_STATE


def run_context(job: Job, reporter: JobReporter, workdir: Path) -> RunContext:
    """What ``job``'s tool needs: its parameters, input files, listener, this attempt's work folder
    (``workdir``, from workdir.attempt_workdir), and the earlier job it continues (a resumed
    training, a batch retry). Inputs are read through storage, never from a path."""
    inputs = {f.field: _read(f) for f in job.files.filter(role=JobFile.Role.INPUT)}
    return RunContext(job_id=str(job.pk), owner=job.owner, params=job.params, inputs=inputs,
                      progress=reporter, workdir=workdir, earlier=_earlier(job, workdir))


class StoredJob:
    """An earlier job (apps.tools.context.EarlierJob) as the database and storage keep it; ``job``
    None: one that is gone, which has nothing. Its training checkpoint is downloaded into
    ``workdir`` (the attempt's folder) when the tool asks for it."""

    def __init__(self, job_id: str, job: Job | None, workdir: Path | None = None) -> None:
        self._id = job_id
        self._job = job
        self._workdir = workdir

    @property
    def id(self) -> str:
        return self._id

    def result(self, name: str) -> bytes | None:
        if self._job is None:
            return None
        stored = JobFile.objects.filter(job=self._job, role=JobFile.Role.RESULT, name=name).first()
        return _read(stored) if stored else None

    def training_state(self) -> Path | None:
        if self._job is None or self._workdir is None:
            return None
        local = self._workdir / EARLIER_STATE
        if local.is_file() or download_training_state(self._job.pk, local):
            return local
        return None

    def loss_points(self) -> list[LossPoint]:
        if self._job is None:
            return []
        progress = JobEvent.objects.filter(job=self._job, kind="progress").order_by("seq")
        return [[e.data["step"], e.data["metrics"]] for e in progress if "metrics" in e.data]


def _earlier(job: Job, workdir: Path) -> StoredJob | None:
    """The job named by RESUME_FROM or CONTINUE_FROM. services.py sets those only from a job of the
    same owner; the owner is checked again here, so a tool can never read another user's job."""
    earlier_id: Any = job.params.get(RESUME_FROM) or job.params.get(CONTINUE_FROM)
    if not earlier_id:
        return None
    try:
        found = Job.objects.filter(pk=earlier_id, owner_id=job.owner_id).first()
    except ValidationError:  # not a job id at all
        found = None
    return StoredJob(str(earlier_id), found, workdir)


def _read(job_file: JobFile) -> bytes:
    with job_file.file.open("rb") as fh:
        return fh.read()
