"""The RunContext the runner hands a tool (apps/jobs/context.py): the job's parameters, inputs,
owner, reporter and work folder, and what it needs of the earlier job it continues, read only
from a job of the same owner (its training checkpoint from storage, into this attempt's folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.jobs import events
from apps.jobs.context import EARLIER_STATE, run_context
from apps.jobs.models import Job, JobFile
from apps.jobs.reporter import JobReporter
from apps.jobs.workdir import state_key
from apps.tools.context import CONTINUE_FROM, RESUME_FROM
from tests.apps.conftest import add_file, make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The attempt's work folder, as workdir.attempt_workdir gives it: empty."""
    (tmp_path / "attempt").mkdir()
    return tmp_path / "attempt"


def test_a_tool_gets_its_jobs_params_inputs_owner_and_folder(alice: Any, folder: Path) -> None:
    job = make_job(alice, params={"steps": 3})
    add_file(job, JobFile.Role.INPUT, "photo.png", b"png bytes")
    reporter = JobReporter(job)
    ctx = run_context(job, reporter, folder)
    assert (ctx.job_id, ctx.owner, ctx.params) == (str(job.pk), alice, {"steps": 3})
    assert ctx.inputs == {"content": b"png bytes"}  # by form field (add_file's is "content")
    assert ctx.progress is reporter and ctx.workdir == folder and ctx.earlier is None


def _earlier(owner: Any) -> Job:
    """A stopped training with a result file, a checkpoint and two loss points."""
    job = make_job(owner, kind="train-dcgan")
    add_file(job, JobFile.Role.RESULT, "results.zip", b"zip bytes")
    default_storage.save(state_key(job.pk), ContentFile(b"checkpoint"))
    for step in (1, 2):
        events.record(job, "progress", {"step": step, "total": 9, "metrics": {"loss": 1.0 / step}})
    events.record(job, "progress", {"step": 3, "total": 9})  # no metrics: not a chart point
    return job


@pytest.mark.parametrize("param", [RESUME_FROM, CONTINUE_FROM])
def test_the_earlier_job_gives_its_results_checkpoint_and_loss_points(alice: Any, param: str,
                                                                      folder: Path) -> None:
    earlier = _earlier(alice)
    job = make_job(alice, params={param: str(earlier.pk)})
    ctx = run_context(job, JobReporter(job), folder)
    assert ctx.earlier is not None and ctx.earlier.id == str(earlier.pk)
    assert ctx.earlier.result("results.zip") == b"zip bytes" and ctx.earlier.result("other") is None
    assert ctx.earlier.training_state() == folder / EARLIER_STATE  # downloaded into the folder
    assert (folder / EARLIER_STATE).read_bytes() == b"checkpoint"
    assert ctx.earlier.loss_points() == [[1, {"loss": 1.0}], [2, {"loss": 0.5}]]


@pytest.mark.parametrize("earlier_id", ["bob's", "not-a-job-id", "00000000-0000-0000-0000-000000000000"])
def test_another_users_or_a_missing_job_gives_nothing(alice: Any, bob: Any, earlier_id: str,
                                                      folder: Path) -> None:
    bobs = _earlier(bob)
    job = make_job(alice, params={CONTINUE_FROM: str(bobs.pk) if earlier_id == "bob's" else earlier_id})
    earlier = run_context(job, JobReporter(job), folder).earlier
    assert earlier is not None
    assert earlier.result("results.zip") is None and earlier.training_state() is None
    assert list(folder.iterdir()) == []
    assert earlier.loss_points() == []


def test_the_reporter_carries_an_earlier_chart_as_one_progress_event(alice: Any) -> None:
    job = make_job(alice, state="running", attempts=1)
    reporter = JobReporter(job)
    reporter.carry_history([], "nothing to carry")  # no points: no event
    reporter.carry_history([[1, {"loss": 1.0}], [2, {"loss": 0.5}]], "resuming the training of job x")
    [carried] = [e.data for e in job.events.filter(kind="progress")]
    assert carried == {"step": 2, "total": 0, "history": [[1, {"loss": 1.0}], [2, {"loss": 0.5}]],
                       "message": "resuming the training of job x"}
    job.refresh_from_db()
    assert job.step == 0 and job.message == ""  # the event only; the job's columns are its own
