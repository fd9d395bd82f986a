"""Worker start-up: jobs this worker was running when it died are re-queued or failed."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import worker_ready
from django.conf import settings

log = logging.getLogger(__name__)


@worker_ready.connect
def recover_orphans(sender: Any = None, **kwargs: Any) -> None:
    from . import events, services
    from .models import Job, JobState

    hostname = getattr(sender, "hostname", "")
    for job in Job.objects.filter(state=JobState.RUNNING, worker=hostname):
        if job.attempts >= settings.STUDIO_MAX_ATTEMPTS:
            events.transition(job, JobState.FAILED, "Failed: the worker was lost",
                              error=f"Worker {hostname} restarted while running this job.")
            continue
        services.renew_task_id(job)
        if events.transition(job, JobState.QUEUED, "Worker restarted; running again"):
            services.enqueue(job)
            log.info("re-queued job %s lost by %s", job.pk, hostname)
