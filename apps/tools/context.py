"""What a tool gets to run one job: a RunContext. The job runner (apps/jobs/runner.py) builds it
from the Job row, its files and events (apps/jobs/context.py); a tool reads only this, so no tool
imports apps.jobs (which imports the tools)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.contrib.auth.models import User
from PIL import Image

from ml.common.progress import NullProgress, Progress

# The parameters naming the earlier job a new one continues. Set only by apps/jobs/services.py, from
# a job the owner was checked against (no form has such a field), and the runner checks the owner
# again before it reads that job (apps/jobs/context.py).
RESUME_FROM = "resume_from"  # a resumed training: the job whose training checkpoint it continues
CONTINUE_FROM = "continue_from"  # a batch retry: the batch whose results it completes
TRAINING_STATE = "training-state.pt"  # the file a training job keeps in its work folder

# One point of a loss chart: a step and the losses reported at it (static/js/job.js draws them).
LossPoint = list[Any]  # [step, {"loss_d": 0.69, ...}], as JSON keeps it


class JobProgress(Progress, Protocol):
    """The listener a tool reports to: ml's Progress, plus the job's log, its live text and a
    resumed training's chart. The runner gives the job's reporter (apps.jobs.reporter.JobReporter)."""

    def log(self, message: str) -> None:
        """A line in the job's log."""

    def text(self, chunk: str) -> None:
        """Append ``chunk`` to the text the job page shows as it is written ("text" events)."""

    def carry_history(self, points: list[LossPoint], message: str) -> None:
        """The earlier job's loss points, as one progress event of this job, so its chart shows the
        whole training, not just what this job adds (no points: no event)."""


class EarlierJob(Protocol):
    """The job a new job continues, already checked to be the same owner's. A job that is gone has
    nothing: no results, no checkpoint, no points (the tool says what to do instead)."""

    @property
    def id(self) -> str: ...

    def result(self, name: str) -> bytes | None:
        """Its result file called ``name`` (None: it has none)."""

    def training_state(self) -> Path | None:
        """A local copy of the training checkpoint it left (None: gone, or it finished)."""

    def loss_points(self) -> list[LossPoint]:
        """The loss points of its progress events, in order."""


@dataclass(frozen=True)
class RunContext:
    """Everything one run of a tool may use."""

    job_id: str  # "" outside a job
    owner: User | None  # None only outside a job (a test, a bench)
    params: dict[str, Any]  # as stored on the job (RESUME_FROM / CONTINUE_FROM included)
    inputs: dict[str, bytes]  # the uploaded files, by form field
    progress: JobProgress
    # This attempt's local folder; a training's checkpoint in it is kept across attempts (through
    # storage, apps/jobs/workdir.py). None outside a job.
    workdir: Path | None
    earlier: EarlierJob | None = None  # the job named by RESUME_FROM or CONTINUE_FROM


class ProgressOnly:
    """A JobProgress from a bare ml Progress: updates and cancel checks go to it; the log, live text
    and a carried chart go nowhere (a run outside a job, or a tool run inside another's job)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def update(self, step: int, total: int, message: str = "", preview: Image.Image | None = None,
               metrics: dict[str, float] | None = None) -> None:
        self.progress.update(step, total, message, preview, metrics)

    def cancelled(self) -> bool:
        return self.progress.cancelled()

    def log(self, message: str) -> None:
        pass

    def text(self, chunk: str) -> None:
        pass

    def carry_history(self, points: list[LossPoint], message: str) -> None:
        pass


def outside_job(params: dict[str, Any], inputs: dict[str, bytes] | None = None,
                progress: Progress | None = None) -> RunContext:
    """A context for running a tool by itself (tests, benches): no job, owner, folder or earlier job."""
    return RunContext(job_id="", owner=None, params=params, inputs=inputs or {},
                      progress=ProgressOnly(progress or NullProgress()), workdir=None)
