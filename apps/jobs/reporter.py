"""JobReporter: the studio's listener for ml's Progress protocol."""

from __future__ import annotations

import contextlib
import io
import time
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from apps.tools.context import LossPoint

from . import events
from .models import Job, JobFile, JobState


class JobReporter:
    """Turns ml progress reports into throttled job events; answers ml's cancellation checks. The
    listener a job's tool gets (apps.tools.context.JobProgress)."""

    def __init__(self, job: Job, *, cancel_poll_seconds: float = 0.5) -> None:
        self.job = job
        # The attempt this reporter writes for (the job has just moved to running it): every write
        # is fenced with it, so once the job is taken back from this worker nothing more lands.
        self.attempt = job.attempts
        self._min_interval = 1.0 / settings.STUDIO_EVENTS_PER_SECOND
        self._last_sent = 0.0
        self._last_preview = 0.0
        self._cancel_poll = cancel_poll_seconds
        self._last_cancel_check = 0.0
        self._cancelled = False

    def update(self, step: int, total: int, message: str = "", preview: Image.Image | None = None,
               metrics: dict[str, float] | None = None) -> None:
        now = time.monotonic()
        final = total > 0 and step >= total
        # Metrics are never dropped: they are the points of a training job's loss chart, and ml
        # code sends them only every so many steps. Bare step counts are throttled.
        if not final and not metrics and now - self._last_sent < self._min_interval:
            # Previews are worth more than a step count, but not more than one a second.
            if preview is None or now - self._last_preview < 1.0:
                return
        data: dict[str, Any] = {"step": step, "total": total, "message": message}
        if metrics:
            data["metrics"] = {k: float(v) for k, v in metrics.items()}
        with_preview = preview is not None and (now - self._last_preview >= 1.0 or final)
        # A preview's row is kept only with its event: a fenced write rolls both back.
        with events.atomic() if with_preview else contextlib.nullcontext():
            if with_preview:
                assert preview is not None
                data["preview"] = self._save_preview(preview, step)
                self._last_preview = now
            events.record(self.job, "progress", data, attempt=self.attempt, step=step, total=total,
                          message=message[:500])
        self._last_sent = now

    def cancelled(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._last_cancel_check >= self._cancel_poll:
            self._last_cancel_check = now
            # Cancelled by its owner, or no longer this attempt's to run (taken back by the sweep):
            # either way the tool stops at this check.
            row = Job.objects.filter(pk=self.job.pk).values("cancel_requested_at", "state",
                                                             "attempts").first()
            self._cancelled = (row is None or row["cancel_requested_at"] is not None
                               or row["state"] != JobState.RUNNING or row["attempts"] != self.attempt)
        return self._cancelled

    def log(self, message: str) -> None:
        events.record(self.job, "log", {"message": message}, attempt=self.attempt)

    def text(self, chunk: str) -> None:
        """Text as a tool writes it; the caller sends chunks a few times a second, so every one is
        kept (the page shows their concatenation)."""
        events.record(self.job, "text", {"text": chunk}, attempt=self.attempt)

    def carry_history(self, points: list[LossPoint], message: str) -> None:
        """A resumed training's earlier loss points, as one progress event (static/js/job.js draws an
        event's "history"). Only the event: the job's step and message columns stay as they are."""
        if points:
            events.record(self.job, "progress", {"step": points[-1][0], "total": 0, "history": points,
                                                 "message": message}, attempt=self.attempt)

    def _save_preview(self, image: Image.Image, step: int) -> str:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=85)
        name = f"preview-{step:06d}.jpg"
        job_file = JobFile(job=self.job, role=JobFile.Role.PREVIEW, name=name,
                           content_type="image/jpeg", size=buffer.tell())
        job_file.file.save(name, ContentFile(buffer.getvalue()), save=True)
        return reverse("job-file", args=[self.job.pk, job_file.pk])
