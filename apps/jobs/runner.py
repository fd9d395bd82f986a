"""Running one job in a worker: load it by id, call its tool, store results, finish."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from apps.catalog.loading import pinned
from apps.monitoring import gpu
from apps.tools.base import CancelledWithResults, ToolError, ToolOutput
from apps.tools.registry import get_tool
from ml.common.progress import Cancelled

from . import events
from .context import run_context
from .models import Job, JobFile, JobState
from .reporter import JobReporter
from .watchdog import CancelWatchdog

log = logging.getLogger(__name__)


def run(job_id: str, task_id: str, worker: str) -> None:
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.is_terminal or (job.task_id and job.task_id != task_id):
        return  # deleted, finished (e.g. cancelled while queued) or a stale redelivery
    if job.state == JobState.RUNNING:
        # We only get here when a worker died mid-job and the broker redelivered the message.
        if job.attempts >= settings.STUDIO_MAX_ATTEMPTS:
            events.transition(job, JobState.FAILED, "Failed: the worker was lost",
                              error=f"The worker running this job died {job.attempts} times.")
            return
        events.transition(job, JobState.QUEUED, "Worker lost; running again")
    if job.cancel_requested_at:
        events.transition(job, JobState.CANCELLED, "Cancelled before it started")
        return
    tool = get_tool(job.kind)
    if tool is None:
        events.transition(job, JobState.FAILED, "Failed", error=f"Unknown tool {job.kind!r}.")
        return
    if not events.transition(job, JobState.RUNNING, "Starting", worker=worker,
                             attempts=job.attempts + 1, started_at=timezone.now()):
        return
    ctx = run_context(job, JobReporter(job))
    try:
        # A job routed to an endpoint variant uses that variant's version, not the active one.
        # GPU memory goes to Redis while the job runs and after it, for /metrics (apps/monitoring/gpu.py).
        with CancelWatchdog(job), gpu.publishing("celery"), \
                pinned(job.variant.version if job.variant else None):
            output = tool.run(ctx)
    except CancelledWithResults as exc:
        _store(job, exc.output, JobState.CANCELLED, "Cancelled; what was done is kept")
    except Cancelled:
        events.transition(job, JobState.CANCELLED, "Cancelled")
    except (ToolError, ValueError) as exc:
        events.transition(job, JobState.FAILED, "Failed", error=str(exc))
    except Exception as exc:
        log.exception("job %s crashed", job.pk)
        events.transition(job, JobState.FAILED, "Failed",
                          error=f"Internal error ({type(exc).__name__}); see the worker log.")
    else:
        _store(job, output, JobState.SUCCEEDED, "Done")


def _store(job: Job, output: ToolOutput, state: str, message: str) -> None:
    """Result files and the final state (succeeded, or cancelled with partial results) in one
    transaction: one commit rather than one per file (a DCGAN grid has 17), and the state is pushed
    once its results are stored with it."""
    summary = output.summary
    model_fields: dict[str, Any] = {"model_version": output.model_version}
    if output.model is not None:
        version = output.model.version
        summary = {**summary, "model": output.model.summary()}
        model_fields = {"model": version, "model_sha256": version.sha256, "model_version": version.label}
    with events.atomic():
        for out in output.files:
            job_file = JobFile(job=job, role=JobFile.Role.RESULT, name=out.name,
                               content_type=out.content_type, size=len(out.content))
            job_file.file.save(out.name, ContentFile(out.content), save=True)
        done = {"step": job.total or 1, "total": job.total or 1} if state == JobState.SUCCEEDED else {}
        events.transition(job, state, message, result=summary, **done, **model_fields)
