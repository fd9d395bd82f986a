"""Worker start-up: jobs this worker was running when it died are re-queued or failed."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery.signals import worker_ready
from django.conf import settings

log = logging.getLogger(__name__)


@worker_ready.connect
def recover_orphans(sender: Any = None, **kwargs: Any) -> None:
    from . import events
    from .models import Job, JobState
    from .tasks import run_job

    hostname = getattr(sender, "hostname", "")
    for job in Job.objects.filter(state=JobState.RUNNING, worker=hostname):
        if job.attempts >= settings.STUDIO_MAX_ATTEMPTS:
            events.transition(job, JobState.FAILED, "Failed: the worker was lost",
                              error=f"Worker {hostname} restarted while running this job.")
            continue
        # A fresh task id: the old unacked message, if the broker redelivers it, is skipped.
        Job.objects.filter(pk=job.pk).update(task_id=str(uuid.uuid4()))
        job.refresh_from_db()
        if events.transition(job, JobState.QUEUED, "Worker restarted; running again"):
            from apps.tools.base import get_tool

            tool = get_tool(job.kind)
            run_job.apply_async(args=[str(job.pk)], task_id=job.task_id,
                                queue=tool.queue if tool else "cpu")
            log.info("re-queued job %s lost by %s", job.pk, hostname)
