"""Jobs: one row per piece of work, the truth about it, and its ordered event log."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models


class JobState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})

# The only moves the state machine allows. running -> queued is a re-run after a lost worker.
TRANSITIONS: dict[str, frozenset[str]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELLED, JobState.FAILED}),
    JobState.RUNNING: frozenset(
        {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.QUEUED}
    ),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=40, help_text="The tool slug, e.g. 'style'.")
    params = models.JSONField(default=dict)
    state = models.CharField(max_length=12, choices=JobState.choices, default=JobState.QUEUED)
    step = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="Tool summary: losses, network, ...")
    # The catalog version the job ran with: the row (kept as long as the version is) and the exact
    # bytes (sha256, kept even if the version is deleted); model_version is the readable label.
    model = models.ForeignKey("catalog.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="jobs")
    model_sha256 = models.CharField(max_length=64, blank=True)
    # The endpoint variant the job was routed to (an A/B test), if the tool's family has one.
    variant = models.ForeignKey("catalog.Variant", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="jobs")
    model_version = models.CharField(max_length=200, blank=True)
    # The owner's verdict on a succeeded job's result: +1 up, -1 down (the endpoint's figures show
    # each variant's preference rate from these).
    rating = models.SmallIntegerField(null=True, blank=True, choices=[(1, "up"), (-1, "down")])
    seed = models.BigIntegerField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    # Runs started so far. It is also the fencing token of the running attempt: every write a worker
    # makes for a job names its attempt, and matches only while the job is running that attempt, so
    # a worker presumed dead that comes back cannot write into the next attempt (apps/jobs/events.py).
    attempts = models.PositiveSmallIntegerField(default=0)
    # Written every STUDIO_HEARTBEAT_S by the worker running the job; a job silent for longer than
    # STUDIO_WORKER_DEAD_AFTER_S is taken back by the sweep (apps/jobs/reaper.py).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["state"]),
                   models.Index(fields=["state", "heartbeat_at"], name="jobs_job_state_heartbeat")]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.state})"

    @property
    def group_name(self) -> str:
        return f"job-{self.id}"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def percent(self) -> int:
        return int(100 * self.step / self.total) if self.total else 0

    def can_move_to(self, state: str) -> bool:
        return state in TRANSITIONS[self.state]

    def snapshot(self) -> dict[str, Any]:
        """The job's state as the browser and the JSON poll see it."""
        return {
            "id": str(self.id),
            "kind": self.kind,
            "state": self.state,
            "step": self.step,
            "total": self.total,
            "message": self.message,
            "error": self.error,
            "last_seq": self.last_seq,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


class JobEvent(models.Model):
    """One durable, ordered report about a job; seq is 1, 2, 3, ... per job."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=20)  # "state", "progress", "log", "result"
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="unique_job_seq")]

    def as_message(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "data": self.data, "at": self.created_at.isoformat()}


def job_file_path(instance: JobFile, filename: str) -> str:
    return f"jobs/{instance.job_id}/{instance.role}/{filename}"


class JobFile(models.Model):
    """A file that belongs to a job: an upload, a preview or a result. Served only to the owner."""

    class Role(models.TextChoices):
        INPUT = "input"
        PREVIEW = "preview"
        RESULT = "result"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="files")
    role = models.CharField(max_length=10, choices=Role.choices)
    field = models.CharField(max_length=40, blank=True, help_text="Form field for inputs.")
    name = models.CharField(max_length=200)
    file = models.FileField(upload_to=job_file_path, max_length=300)
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
