"""The job watchdog: a thread beside running jobs that proves their worker is alive and enforces the
cancel grace period.

Heartbeat: every STUDIO_HEARTBEAT_S it writes the job's ``heartbeat_at``, for its attempt only. A
worker that dies (killed, its machine lost) stops writing, and the sweep (apps/jobs/reaper.py) takes
the job back after STUDIO_WORKER_DEAD_AFTER_S.

Cancel: ml code stops by itself at its next progress check. If it doesn't (stuck in one long op), the
watchdog ends the job as cancelled and kills its own worker child; Celery replaces the child, and
the redelivered message finds a finished job and is dropped.

One thread per process watches every job the process runs (a pool process runs one at a time), and
it outlives them: starting a thread for each job and joining it at the end cost a job two thread
hand-offs, each a wait for the scheduler, several milliseconds when other processes load the cores
(bench/job_overhead.py).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from . import events
from .models import Job, JobState
from .per_process import PerProcess

log = logging.getLogger(__name__)


class JobWatchdog:
    """Watches one attempt of a job while the ``with`` block runs. ``on_poll`` is called at every
    poll too (e.g. to republish the worker's GPU memory; it throttles itself and must not raise)."""

    def __init__(self, job: Job, poll_seconds: float = 0.5,
                 on_poll: Callable[[], object] | None = None) -> None:
        self.job_id = job.pk
        self.attempt = job.attempts
        self.poll = poll_seconds
        self.grace = settings.STUDIO_CANCEL_GRACE_SECONDS
        self.heartbeat_every = settings.STUDIO_HEARTBEAT_S
        self.on_poll = on_poll
        now = time.monotonic()
        self.next_poll = now + poll_seconds
        self.beat_at = now
        self.seen_at: float | None = None  # when the cancel request was first seen
        self.ended = False  # it has tried to end the job: nothing more to do for it

    def __enter__(self) -> JobWatchdog:
        _watcher().watch(self)
        return self

    def __exit__(self, *exc: object) -> None:
        # Waits for a check of this job that is under way: nothing is written for it afterwards.
        _watcher().unwatch(self)

    def check(self) -> None:
        """One poll: the heartbeat when due, the cancel request, the kill once the grace is over."""
        if self.ended:
            return
        if self.on_poll is not None:
            self.on_poll()
        now = time.monotonic()
        if now - self.beat_at >= self.heartbeat_every:
            self._beat()
            self.beat_at = time.monotonic()
        if self.seen_at is None:
            if self._cancel_requested():
                self.seen_at = time.monotonic()
        elif now - self.seen_at > self.grace:
            self._kill()

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
            # than let the grace period go unenforced for the rest of the job.
            close_old_connections()
            return False

    def _kill(self) -> None:
        job = Job.objects.get(pk=self.job_id)
        self.ended = True  # killed below, or the job ended meanwhile
        if events.transition(job, JobState.CANCELLED,
                             f"Cancelled: did not stop within {self.grace:g}s, worker child killed",
                             attempt=self.attempt):
            log.warning("job %s ignored cancel; killing worker child %s", job.pk, os.getpid())
            connection.close()
            events.flush_pushes(events.PUSH_TIMEOUT_SECONDS)  # the page hears "cancelled" before the kill
            os.kill(os.getpid(), signal.SIGKILL)


class _Watcher:
    """The process's watchdog thread. The jobs' checks run under ``changed``'s lock, so taking a job
    off the list waits for a check of it that is under way."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.dogs: list[JobWatchdog] = []
        threading.Thread(target=self._loop, name="job-watchdog", daemon=True).start()

    def watch(self, dog: JobWatchdog) -> None:
        with self.changed:
            self.dogs.append(dog)
            self.changed.notify()

    def unwatch(self, dog: JobWatchdog) -> None:
        with self.changed:
            if dog in self.dogs:
                self.dogs.remove(dog)
            self.changed.notify()

    def _loop(self) -> None:
        with self.changed:
            while True:
                if not self.dogs:
                    connection.close()  # this thread's own: idle until the next job
                    self.changed.wait()
                    continue
                now = time.monotonic()
                due = [dog for dog in self.dogs if dog.next_poll <= now]
                if not due:
                    self.changed.wait(min(dog.next_poll for dog in self.dogs) - now)
                    continue
                for dog in due:
                    dog.next_poll = now + dog.poll
                    try:
                        dog.check()
                    except Exception:  # the thread must outlive any one check (and job)
                        log.exception("watchdog of job %s: a check failed", dog.job_id)
                        close_old_connections()


_watchers = PerProcess(_Watcher)


def _watcher() -> _Watcher:
    return _watchers.get()
