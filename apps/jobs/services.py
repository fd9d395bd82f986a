"""Creating and cancelling jobs: what the web side does."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import transaction
from django.utils import timezone

from apps.catalog import routing
from apps.catalog.models import Variant
from apps.tools.base import Tool
from apps.tools.context import CONTINUE_FROM, RESUME_FROM
from apps.tools.registry import get_tool

from . import events
from .models import Job, JobFile, JobState
from .tasks import run_job
from .workdir import has_training_state


class TooManyJobs(Exception):
    """The user has as many jobs queued or running as they may; the message says so."""

    retry_after = 30  # seconds: about when some of them will have finished


def check_quota(owner: User) -> None:
    """TooManyJobs when ``owner`` already has STUDIO_MAX_ACTIVE_JOBS_PER_USER jobs queued or running."""
    limit = settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER
    active = Job.objects.filter(owner=owner, state__in=[JobState.QUEUED, JobState.RUNNING]).count()
    if active >= limit:
        raise TooManyJobs(f"You have {active} jobs queued or running; the limit is {limit}. "
                          "Submit more when some have finished.")


def submit(owner: User, tool: Tool, params: dict[str, Any], files: dict[str, UploadedFile]) -> Job:
    """Store a job of ``tool`` and its inputs, and enqueue it on the tool's queue once the
    transaction has committed; TooManyJobs when the owner is at their limit of active jobs."""
    check_quota(owner)
    with transaction.atomic():
        job = Job.objects.create(owner=owner, kind=tool.slug, params=params, seed=params.get("seed"),
                                 task_id=str(uuid.uuid4()), variant=_route(tool, owner),
                                 last_seq=1)  # its first event, queued, is recorded below
        for field_name, upload in files.items():
            assert upload.name is not None and upload.size is not None  # always set for a form upload
            job_file = JobFile(job=job, role=JobFile.Role.INPUT, field=field_name,
                               name=upload.name[:200], size=upload.size,
                               content_type=upload.content_type or "application/octet-stream")
            job_file.file.save(upload.name, upload, save=True)
        events.record_first(job, {"state": JobState.QUEUED, "message": "Queued", "step": 0, "total": 0})
        transaction.on_commit(lambda: run_job.apply_async(args=[str(job.pk)], queue=tool.queue,
                                                          task_id=job.task_id))
    return job


def _route(tool: Tool, owner: User) -> Variant | None:
    """The endpoint variant a new job of ``tool`` goes to (None: the active version)."""
    if tool.trains or not tool.family:
        return None
    return routing.choose(tool.family, owner.pk)


def rerun(job: Job, tool: Tool) -> Job:
    """A new job for the same owner with the same tool (``job``'s), parameters (seed included) and
    inputs. A rerun of a resumed training starts afresh: "these settings" are the settings, not the
    state."""
    params = {k: v for k, v in job.params.items() if k != RESUME_FROM}
    return submit(job.owner, tool, params, _input_copies(job))


def can_resume(job: Job) -> bool:
    """A cancelled or failed training job that left a training checkpoint in storage."""
    stopped = job.state in (JobState.CANCELLED, JobState.FAILED)
    return stopped and has_training_state(job.pk)


def resume(job: Job, tool: Tool) -> Job:
    """A new job that continues ``job``'s training (with ``tool``, its tool) from its checkpoint,
    with the same settings and inputs (the worker copies the checkpoint over when it starts)."""
    if not can_resume(job):
        raise ValueError("This job has no training checkpoint to resume from.")
    params = {**job.params, RESUME_FROM: str(job.pk)}
    return submit(job.owner, tool, params, _input_copies(job))


class NothingToRetry(Exception):
    """The job is not a batch with failed items."""


class RetryRejected(Exception):
    """The replacements did not pass the tool's form; ``errors`` says why, per field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(" ".join(m for messages in errors.values() for m in messages))
        self.errors = errors


def retry_failed(job: Job, files: Any) -> Job:
    """A batch with failed items (images, CSV rows), again with a file of replacements: a new job
    that keeps the earlier results and runs only what failed. The upload (``files``, as
    ``request.FILES``) goes through the tool's own form with the earlier job's settings; a cancelled
    batch that kept partial results counts too. The job page and the API both come here."""
    tool = get_tool(job.kind)
    has_failures = job.state in (JobState.SUCCEEDED, JobState.CANCELLED) and bool(job.result.get("failed"))
    if tool is None or not tool.retry_field or not has_failures:
        raise NothingToRetry("This job has no failed items to retry.")
    form = tool.form_class(tool.form_data(job.params), files)
    if not form.is_valid():
        raise RetryRejected({name: [str(m) for m in messages] for name, messages in form.errors.items()})
    params = {**tool.params(form.cleaned_data), CONTINUE_FROM: str(job.pk)}
    return submit(job.owner, tool, params, {tool.retry_field: form.cleaned_data[tool.retry_field]})


def _input_copies(job: Job) -> dict[str, UploadedFile]:
    files: dict[str, UploadedFile] = {}
    for f in job.files.filter(role=JobFile.Role.INPUT):
        with f.file.open("rb") as fh:
            files[f.field] = SimpleUploadedFile(f.name, fh.read(), f.content_type)
    return files


def requeue_waiting() -> int:
    """Send every queued job's message again. For a broker that lost its messages."""
    jobs = list(Job.objects.filter(state=JobState.QUEUED))
    for job in jobs:
        renew_task_id(job)
        enqueue(job)
    return len(jobs)


def renew_task_id(job: Job) -> None:
    """Give the job a fresh task id, so that an old message the broker may still hold (and
    redeliver) is skipped by the runner as stale. Do this before the job can run again."""
    Job.objects.filter(pk=job.pk).update(task_id=str(uuid.uuid4()))
    job.refresh_from_db(fields=["task_id"])


def enqueue(job: Job) -> None:
    """Send a job that is queued already (again: a lost message, a restarted worker) to its tool's
    queue."""
    tool = get_tool(job.kind)
    run_job.apply_async(args=[str(job.pk)], queue=tool.queue if tool else "cpu", task_id=job.task_id)


def request_cancel(job: Job) -> None:
    """Queued jobs end at once; running ones stop at their next progress check (the worker's
    watchdog kills them after the grace period if they don't)."""
    if job.is_terminal:
        return
    Job.objects.filter(pk=job.pk, cancel_requested_at__isnull=True).update(
        cancel_requested_at=timezone.now())
    job.refresh_from_db()
    if job.state == JobState.QUEUED and events.transition(
        job, JobState.CANCELLED, "Cancelled before it started"
    ):
        _revoke(job.task_id)
    elif job.state == JobState.RUNNING:
        events.record(job, "log", {"message": "Cancel requested"})


def _revoke(task_id: str) -> None:
    """Drop the queued message too; if this fails the runner skips the cancelled job anyway."""
    from studio.celery import app

    try:
        app.control.revoke(task_id)
    except Exception:
        pass


RATINGS = {"up": 1, "down": -1, "none": None}


class NotRateable(Exception):
    """Only a succeeded job's result can be rated."""


def rate(job: Job, rating: str) -> None:
    """Record the owner's thumbs up or down ("up", "down"; "none" takes it back) on a succeeded job."""
    if job.state != JobState.SUCCEEDED:
        raise NotRateable(f"Only a finished result can be rated; this job is {job.state}.")
    job.rating = RATINGS[rating]
    Job.objects.filter(pk=job.pk).update(rating=job.rating)

