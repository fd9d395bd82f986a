"""Celery tasks: thin, ids in."""

from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError, close_old_connections

from . import runner

# A database that is restarting refuses connections for a few seconds. The job's message goes back
# to the queue with this back-off (1, 2, 4 ... 30 s) instead of being acknowledged with the job stuck
# "queued" (or "running") for good; past the last retry the sweep re-sends it (apps/jobs/reaper.py).
DB_RETRY_MAX_SECONDS = 30
DB_RETRIES = 40


@shared_task(bind=True, name="jobs.run_job", max_retries=DB_RETRIES)
def run_job(self: Any, job_id: str) -> None:
    try:
        runner.run(job_id, task_id=self.request.id, worker=self.request.hostname or "")
    except (OperationalError, InterfaceError) as exc:
        close_old_connections()
        raise self.retry(exc=exc, countdown=min(DB_RETRY_MAX_SECONDS, 2 ** self.request.retries)) from exc
