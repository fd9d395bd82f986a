"""A finished job's result files and its `succeeded` event: all stored, in one transaction (one commit,
not one per file), and pushed only once committed. Also events.atomic() on its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.db import connection

from apps.jobs import events, runner
from apps.jobs.models import JobFile, JobState
from apps.tools.base import OutputFile, ToolOutput
from apps.tools.context import RunContext
from tests.apps.conftest import make_job

SAMPLES = 17  # a DCGAN grid of 16: the grid and each face


class ManyFiles:
    def run(self, ctx: RunContext) -> ToolOutput:
        ctx.progress.update(1, 1, "made them")
        files = [OutputFile(f"sample-{i:03d}.png", bytes([i]) * 10, "image/png") for i in range(SAMPLES)]
        return ToolOutput(files=files, summary={"images": SAMPLES}, model_version="test")


@pytest.fixture
def trace(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What the database and the channel layer saw, in order: inserts, commits and pushes."""
    seen: list[str] = []

    def execute(run: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("INSERT"):
            table = sql.split()[2].strip('"')
            seen.append(f"insert {table}" if connection.in_atomic_block else f"insert {table} (autocommit)")
        return run(sql, params, many, context)

    commit = connection.commit
    monkeypatch.setattr(connection, "commit", lambda: (seen.append("commit"), commit())[1])
    broadcast = events.broadcast
    monkeypatch.setattr(events, "broadcast", lambda job_id, message: (
        seen.append(f"push {message['kind']} {message['data'].get('state', '')}".strip()),
        broadcast(job_id, message))[1])
    with connection.execute_wrapper(execute):
        yield seen


@pytest.mark.django_db(transaction=True)
def test_it_stores_every_result_file_and_succeeds_in_one_commit(alice: Any, trace: list[str]) -> None:
    job = make_job(alice, task_id="t-1")
    with mock.patch("apps.jobs.runner.get_tool", return_value=ManyFiles()):
        runner.run(str(job.pk), "t-1", "worker-a")
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.result == {"images": SAMPLES}
    results = job.files.filter(role=JobFile.Role.RESULT).order_by("name")
    assert [f.name for f in results] == [f"sample-{i:03d}.png" for i in range(SAMPLES)]
    for i, result in enumerate(results):
        with result.file.open("rb") as fh:
            assert fh.read() == bytes([i]) * 10
    after_tool = trace[trace.index("push progress") + 1:]
    assert after_tool == (["insert jobs_jobfile"] * SAMPLES
                          + ["insert jobs_jobevent", "commit", "push state succeeded"])


@pytest.mark.django_db
def test_atomic_pushes_its_events_after_the_block_in_order(alice: Any, trace: list[str]) -> None:
    job = make_job(alice)
    trace.clear()
    with events.atomic():
        events.transition(job, JobState.RUNNING, "Starting")
        events.record(job, "log", {"message": "inside"})
        assert not [t for t in trace if t.startswith("push")]
    assert [t for t in trace if t.startswith("push")] == ["push state running", "push log"]


@pytest.mark.django_db
def test_atomic_pushes_nothing_that_was_rolled_back(alice: Any, trace: list[str]) -> None:
    job = make_job(alice)
    trace.clear()
    with events.atomic():
        events.record(job, "log", {"message": "kept"})
        with pytest.raises(RuntimeError), events.atomic():
            events.record(job, "log", {"message": "rolled back"})
            raise RuntimeError
    with pytest.raises(RuntimeError), events.atomic():
        events.record(job, "log", {"message": "rolled back too"})
        raise RuntimeError
    assert [t for t in trace if t.startswith("push")] == ["push log"]
    assert [e.data["message"] for e in job.events.filter(kind="log")] == ["kept"]
    events.record(job, "log", {"message": "pushed at once again"})
    assert [t for t in trace if t.startswith("push")] == ["push log", "push log"]
