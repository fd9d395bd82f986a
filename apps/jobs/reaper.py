"""The sweep: no job waits for a worker that is gone, or for a message the broker lost.

Every Celery worker runs it every STUDIO_SWEEP_S (apps/jobs/signals.py starts the thread), so losing
any one machine cannot stop it. Each change is a conditional UPDATE (the job still running the
attempt that went silent, still queued under the same task id), so when several workers sweep at
once exactly one of them acts.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.tools.registry import all_tools

from . import broker, events, services
from .models import Job, JobState

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    requeued: int = 0  # running jobs whose worker went silent, queued again
    failed: int = 0  # the same, out of attempts
    resent: int = 0  # queued jobs whose message the broker no longer held


def sweep(now: datetime | None = None) -> SweepReport:
    """One round: silent workers' jobs taken back, lost messages sent again."""
    now = now or timezone.now()
    report = SweepReport()
    take_back_silent_jobs(now, report)
    resend_lost_messages(now, report)
    return report


def take_back_silent_jobs(now: datetime, report: SweepReport) -> None:
    """Running jobs whose worker has not written a heartbeat for STUDIO_WORKER_DEAD_AFTER_S: queued
    again under a new task id (the dead worker's message, if the broker ever redelivers it, is then
    stale), or failed once they have had STUDIO_MAX_ATTEMPTS runs. The attempt that went silent is
    fenced out either way: if its worker comes back, none of its writes land."""
    silent_for = settings.STUDIO_WORKER_DEAD_AFTER_S
    limit = now - timedelta(seconds=silent_for)
    silent = Job.objects.filter(state=JobState.RUNNING).filter(
        Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True, started_at__lt=limit))
    for job in silent:
        lost = f"its worker ({job.worker or 'unknown'}) was silent for over {silent_for:g} s"
        taken = take_back(job, f"Worker lost ({lost}); queued again",
                          f"Tried {job.attempts} times; the last time {lost}. Submit it again.")
        if taken == JobState.QUEUED:
            report.requeued += 1
            log.warning("sweep: job %s queued again; %s", job.pk, lost)
        elif taken == JobState.FAILED:
            report.failed += 1


def take_back(job: Job, message: str, error: str) -> str:
    """A running job whose worker is gone: queued again (``message``) under a new task id, so the
    lost worker's message is stale if the broker ever redelivers it, or failed (``error``) once it
    has had STUDIO_MAX_ATTEMPTS runs. Only while the job still runs the attempt it was read with
    (fenced), so of two takers one acts. Returns the state it moved to, or "" when it had moved on."""
    if job.attempts >= settings.STUDIO_MAX_ATTEMPTS:
        moved = events.transition(job, JobState.FAILED, "Failed: the worker was lost", attempt=job.attempts,
                                  error=error)
        return JobState.FAILED if moved else ""
    if events.transition(job, JobState.QUEUED, message, attempt=job.attempts, task_id=str(uuid.uuid4())):
        services.enqueue(job)
        return JobState.QUEUED
    return ""


def resend_lost_messages(now: datetime, report: SweepReport) -> None:
    """Jobs queued for over STUDIO_REQUEUE_LOST_AFTER_S whose task message the broker holds neither
    in a queue nor as delivered-and-unacknowledged: their message was lost, so send a new one."""
    waiting = list(Job.objects.filter(
        state=JobState.QUEUED, created_at__lt=now - timedelta(seconds=settings.STUDIO_REQUEUE_LOST_AFTER_S)))
    if not waiting:
        return
    held = broker.held_task_ids({tool.queue for tool in all_tools()} | {"cpu", "gpu"})
    if held is None:
        return
    for job in waiting:
        if job.task_id in held:
            continue
        fresh = str(uuid.uuid4())
        # Only if no one else re-sent it meanwhile (same task id, still queued).
        if Job.objects.filter(pk=job.pk, state=JobState.QUEUED, task_id=job.task_id).update(task_id=fresh):
            job.task_id = fresh
            services.enqueue(job)
            report.resent += 1
            log.warning("sweep: job %s was queued with no message in the broker; sent again", job.pk)
