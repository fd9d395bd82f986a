"""Running one job in a worker: load it by id, call its tool, store results, finish."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from apps.catalog.loading import pinned
from apps.monitoring import gpu
from apps.tools.base import CancelledWithResults, Tool, ToolError, ToolOutput
from apps.tools.registry import get_tool
from ml.common.progress import Cancelled

from . import events
from .context import run_context
from .models import Job, JobFile, JobState
from .reporter import JobReporter
from .watchdog import JobWatchdog
from .workdir import attempt_workdir

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
    now = timezone.now()
    if not events.transition(job, JobState.RUNNING, "Starting", worker=worker,
                             attempts=job.attempts + 1, started_at=now, heartbeat_at=now):
        return
    attempt = job.attempts  # this run's fencing token: every write below names it
    try:
        _run_attempt(job, tool, attempt)
    except events.Superseded:
        # The sweep took the job back while this worker was silent (or it ended meanwhile):
        # another attempt owns it now, so this one leaves without a trace.
        log.warning("job %s: attempt %s was superseded; its work is dropped", job.pk, attempt)


def _run_attempt(job: Job, tool: Tool, attempt: int) -> None:
    try:
        # This attempt's own local folder (apps/jobs/workdir.py), outermost: the training checkpoint
        # goes to storage after the watchdog has stopped and before the final state below is written,
        # so a page that shows "cancelled" can already offer to resume.
        # A job routed to an endpoint variant uses that variant's version, not the active one.
        # GPU memory goes to Redis while the job runs (the watchdog's polls, every REFRESH_S) and
        # after it, for /metrics (apps/monitoring/gpu.py); not from a thread of the job's own, which
        # cost each job a thread start and join (bench/job_overhead.py).
        try:
            with attempt_workdir(job) as workdir, JobWatchdog(job, on_poll=_publish_gpu_memory), \
                    pinned(job.variant.version if job.variant else None):
                output = tool.run(run_context(job, JobReporter(job), workdir))
        finally:
            gpu.publish_gpu_memory("celery")
    except CancelledWithResults as exc:
        _store(job, exc.output, JobState.CANCELLED, "Cancelled; what was done is kept", attempt)
    except Cancelled:
        events.transition(job, JobState.CANCELLED, "Cancelled", attempt=attempt)
    except events.Superseded:
        raise
    except (OperationalError, InterfaceError):
        # The database went away (restarting): the task retries the job once it is back
        # (apps/jobs/tasks.py), rather than fail it for something that was not its fault.
        raise
    except (ToolError, ValueError) as exc:
        events.transition(job, JobState.FAILED, "Failed", error=str(exc), attempt=attempt)
    except Exception as exc:
        log.exception("job %s crashed", job.pk)
        events.transition(job, JobState.FAILED, "Failed", attempt=attempt,
                          error=f"Internal error ({type(exc).__name__}); see the worker log.")
    else:
        try:
            _store(job, output, JobState.SUCCEEDED, "Done", attempt)
        except (events.Superseded, OperationalError, InterfaceError):
            raise
        except Exception as exc:
            # Storage refused the results (full disk, S3 away, a name it will not take): the rows
            # rolled back with the transaction, so end the job here rather than leave it running.
            log.exception("job %s: storing its results failed", job.pk)
            events.transition(job, JobState.FAILED, "Failed", attempt=attempt,
                              error=f"The results could not be stored ({type(exc).__name__}: {exc}); "
                                    "see the worker log, then run it again.")


def _publish_gpu_memory() -> None:
    gpu.publish_gpu_memory("celery", at_most_every=gpu.REFRESH_S)


def _store(job: Job, output: ToolOutput, state: str, message: str, attempt: int) -> None:
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
        if not events.transition(job, state, message, result=summary, attempt=attempt,
                                 **done, **model_fields):
            # Taken back or ended meanwhile: the result rows roll back with this transaction.
            raise events.Superseded(f"job {job.pk}: attempt {attempt} could not store its results")
