"""Worker start-up: torch is loaded before the pool forks, jobs this worker was running when it died
are re-queued or failed, and the periodic sweep starts (apps/jobs/reaper.py) in every worker's main
process."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from celery.signals import (
    worker_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from django.conf import settings
from django.db import close_old_connections

from .events import job_finished

log = logging.getLogger(__name__)


@worker_init.connect
def load_torch(**kwargs: Any) -> None:
    """Import torch in the worker's main process, before its pool forks: every pool child starts
    with it loaded instead of paying seconds on its first model job. The studio's modules import it
    only where a model runs, so that web processes never load it (tests/studio/test_web_imports.py).
    Freed tensor memory stays with the process for the next job (ml.common.device)."""
    import torch  # noqa: F401

    from ml.common.device import keep_freed_memory

    keep_freed_memory()


@worker_process_shutdown.connect
def send_last_pushes(**kwargs: Any) -> None:
    """A pool process ends without atexit handlers: send the job events it has not pushed yet."""
    from . import events

    events.flush_pushes(events.PUSH_TIMEOUT_SECONDS)


@worker_ready.connect
def recover_orphans(sender: Any = None, **kwargs: Any) -> None:
    """Jobs this worker (by name) was running when it died: taken back at once, not after the
    sweep's silence limit."""
    from .models import Job, JobState
    from .reaper import take_back

    hostname = getattr(sender, "hostname", "")
    for job in Job.objects.filter(state=JobState.RUNNING, worker=hostname):
        if take_back(job, "Worker restarted; running again",
                     f"Worker {hostname} restarted while running this job.") == JobState.QUEUED:
            log.info("re-queued job %s lost by %s", job.pk, hostname)


class Sweeper:
    """A daemon thread that runs each sweep every STUDIO_SWEEP_S (with a little jitter, so the
    workers of a fleet do not all sweep in the same instant). A sweep that fails (the database or
    Redis restarting) is logged and tried again next round: the thread never dies of it."""

    def __init__(self, sweeps: list[Callable[[], object]], every: float) -> None:
        self.sweeps = sweeps
        self.every = every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="studio-sweep", daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(self.every * random.uniform(0.8, 1.2)):
            for sweep in self.sweeps:
                try:
                    sweep()
                except Exception:
                    log.warning("sweep %s failed; trying again next round", sweep.__qualname__, exc_info=True)
                finally:
                    close_old_connections()


_sweeper: Sweeper | None = None


@worker_ready.connect
def start_sweeping(sender: Any = None, **kwargs: Any) -> None:
    global _sweeper
    from apps.catalog import drift
    from apps.catalog.capture import prune
    from apps.catalog.sweep import end_stale_validations

    from .reaper import sweep

    if settings.STUDIO_SWEEP_S > 0 and _sweeper is None:
        _sweeper = Sweeper([sweep, end_stale_validations, prune, drift.sweep], settings.STUDIO_SWEEP_S)
        _sweeper.thread.start()


@worker_shutdown.connect
def stop_sweeping(**kwargs: Any) -> None:
    if _sweeper is not None:
        _sweeper.stop.set()


def after_variant_job(sender: Any, job_id: Any, state: str, **kwargs: Any) -> None:
    """A job ended: if it ran on an endpoint variant, it may be captured (apps/catalog/capture.py),
    and the guardrails judge that variant now (apps/catalog/guardrails.py). A database or storage
    that cannot answer is logged and skipped: the next job that ends judges again."""
    from apps.catalog import capture
    from apps.catalog.guardrails import check

    from .models import Job, JobFile

    try:
        job = Job.objects.select_related("variant").filter(pk=job_id).first()
        if job is None or job.variant is None:
            return
        if capture.sampled(job.variant.capture_rate):
            outputs = job.result if job.state == "succeeded" else {"state": job.state, "error": job.error}
            inputs = job.files.filter(role=JobFile.Role.INPUT)
            capture.record(job.variant.pk, "job", job.kind, job.params, outputs, job_id=job.pk,
                           files=[(f.name, f.file) for f in inputs])
        check(job.variant.pk)
    except Exception:  # noqa: BLE001 - a database, disk or S3 error; the job itself has ended fine
        log.exception("capture or guardrail check after job %s failed", job_id)


job_finished.connect(after_variant_job, dispatch_uid="variant-jobs")

