"""Celery tasks: thin, ids in."""

from celery import shared_task

from . import runner


@shared_task(bind=True, name="jobs.run_job")
def run_job(self, job_id: str) -> None:
    runner.run(job_id, task_id=self.request.id, worker=self.request.hostname or "")
