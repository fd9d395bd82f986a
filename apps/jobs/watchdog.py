"""The job watchdog: a thread beside a running job that proves its worker is alive and enforces the
cancel grace period.

Heartbeat: every STUDIO_HEARTBEAT_S it writes the job's ``heartbeat_at``, for its attempt only. A
worker that dies (killed, its machine lost) stops writing, and the sweep (apps/jobs/reaper.py) takes
the job back after STUDIO_WORKER_DEAD_AFTER_S.

Cancel: ml code stops by itself at its next progress check. If it doesn't (stuck in one long op), the
watchdog ends the job as cancelled and kills its own worker child; Celery replaces the child, and
the redelivered message finds a finished job and is dropped.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from . import events
from .models import Job, JobState

log = logging.getLogger(__name__)


class JobWatchdog:
    def __init__(self, job: Job, poll_seconds: float = 0.5) -> None:
        self.job_id = job.pk
        self.attempt = job.attempts
        self.poll = poll_seconds
        self.grace = settings.STUDIO_CANCEL_GRACE_SECONDS
        self.heartbeat_every = settings.STUDIO_HEARTBEAT_S
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"watchdog-{job.pk}", daemon=True)

    def __enter__(self) -> JobWatchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        seen_at: float | None = None
        beat_at = time.monotonic()
        try:
            while not self._done.wait(self.poll):
                if time.monotonic() - beat_at >= self.heartbeat_every:
                    self._beat()
                    beat_at = time.monotonic()
                if seen_at is None:
                    if self._cancel_requested():
                        seen_at = time.monotonic()
                elif time.monotonic() - seen_at > self.grace:
                    self._kill()
                    return
        finally:
            close_old_connections()
            connection.close()

    def _beat(self) -> None:
        """The heartbeat, for this attempt only: once the job has been taken back (or has ended)
        it matches no row, and the job's reporter stops the tool at its next check."""
        try:
            Job.objects.filter(pk=self.job_id, attempts=self.attempt, state=JobState.RUNNING).update(
                heartbeat_at=timezone.now())
        except DatabaseError:
            close_old_connections()  # restarting or busy: beat again next time

    def _cancel_requested(self) -> bool:
        try:
            return Job.objects.filter(pk=self.job_id, cancel_requested_at__isnull=False).exists()
        except DatabaseError:
            # A database that is busy (SQLite) or restarting: ask again at the next poll, rather
            # than let this thread die and the grace period go unenforced for the rest of the job.
            close_old_connections()
            return False

    def _kill(self) -> None:
        job = Job.objects.get(pk=self.job_id)
        if events.transition(job, JobState.CANCELLED,
                             f"Cancelled: did not stop within {self.grace:g}s, worker child killed",
                             attempt=self.attempt):
            log.warning("job %s ignored cancel; killing worker child %s", job.pk, os.getpid())
            connection.close()
            os.kill(os.getpid(), signal.SIGKILL)
