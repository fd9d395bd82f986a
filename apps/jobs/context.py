"""The RunContext a job's tool gets (apps/tools/context.py), read from the Job row, its files and
events. Tools never read those themselves: apps.tools does not import apps.jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from apps.tools.context import CONTINUE_FROM, RESUME_FROM, TRAINING_STATE, LossPoint, RunContext

from .models import Job, JobEvent, JobFile, job_workdir
from .reporter import JobReporter


def run_context(job: Job, reporter: JobReporter) -> RunContext:
    """What ``job``'s tool needs: its parameters, input files, listener, work folder, and the earlier
    job it continues (a resumed training, a batch retry)."""
    inputs = {f.field: _read(f) for f in job.files.filter(role=JobFile.Role.INPUT)}
    return RunContext(job_id=str(job.pk), owner=job.owner, params=job.params, inputs=inputs,
                      progress=reporter, workdir=job_workdir(job.pk), earlier=_earlier(job))


class StoredJob:
    """An earlier job (apps.tools.context.EarlierJob) as the database and its work folder keep it;
    ``job`` None: one that is gone, which has nothing."""

    def __init__(self, job_id: str, job: Job | None) -> None:
        self._id = job_id
        self._job = job

    @property
    def id(self) -> str:
        return self._id

    def result(self, name: str) -> bytes | None:
        if self._job is None:
            return None
        stored = JobFile.objects.filter(job=self._job, role=JobFile.Role.RESULT, name=name).first()
        return _read(stored) if stored else None

    def training_state(self) -> Path | None:
        if self._job is None:
            return None
        path = job_workdir(self._job.pk) / TRAINING_STATE
        return path if path.is_file() else None

    def loss_points(self) -> list[LossPoint]:
        if self._job is None:
            return []
        progress = JobEvent.objects.filter(job=self._job, kind="progress").order_by("seq")
        return [[e.data["step"], e.data["metrics"]] for e in progress if "metrics" in e.data]


def _earlier(job: Job) -> StoredJob | None:
    """The job named by RESUME_FROM or CONTINUE_FROM. services.py sets those only from a job of the
    same owner; the owner is checked again here, so a tool can never read another user's job."""
    earlier_id: Any = job.params.get(RESUME_FROM) or job.params.get(CONTINUE_FROM)
    if not earlier_id:
        return None
    try:
        found = Job.objects.filter(pk=earlier_id, owner_id=job.owner_id).first()
    except ValidationError:  # not a job id at all
        found = None
    return StoredJob(str(earlier_id), found)


def _read(job_file: JobFile) -> bytes:
    with job_file.file.open("rb") as fh:
        return fh.read()
