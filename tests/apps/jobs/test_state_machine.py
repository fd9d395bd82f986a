"""events.transition follows TRANSITIONS from the state the row is in now, and writes nothing
when the move is illegal."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest

from apps.jobs import events
from apps.jobs.models import TERMINAL_STATES, TRANSITIONS, JobState
from tests.apps.conftest import make_job

pytestmark = pytest.mark.django_db

PAIRS = list(product(JobState.values, JobState.values))


@pytest.mark.parametrize("source, target", PAIRS)
def test_it_allows_only_listed_moves(alice: Any, source: str, target: str) -> None:
    job = make_job(alice, state=source)
    moved = events.transition(job, target, "moving")
    job.refresh_from_db()
    if target in TRANSITIONS[source]:
        assert moved is True
        assert job.state == target and job.last_seq == 2
        assert job.events.last().data["state"] == target  # type: ignore[union-attr]
        assert (job.finished_at is not None) == (target in TERMINAL_STATES)
    else:
        assert moved is False
        assert job.state == source and job.last_seq == 1 and job.events.count() == 1
        assert job.finished_at is None and job.message == ""


def test_it_rejects_succeeded_to_running(alice: Any) -> None:
    job = make_job(alice, state=JobState.SUCCEEDED)
    assert events.transition(job, JobState.RUNNING, "again?", worker="w9") is False
    job.refresh_from_db()
    assert (job.state, job.worker, job.last_seq) == ("succeeded", "", 1)


def test_it_uses_the_rows_state_not_the_stale_object(alice: Any) -> None:
    # Another process finished the job after we loaded it: our stale "running" copy can't cancel it.
    job = make_job(alice, state=JobState.RUNNING)
    stale = type(job).objects.get(pk=job.pk)
    assert events.transition(job, JobState.SUCCEEDED, "Done") is True
    assert events.transition(stale, JobState.CANCELLED, "Cancelled") is False
    job.refresh_from_db()
    assert job.state == "succeeded"


def test_terminal_states_have_no_way_out() -> None:
    for state in TERMINAL_STATES:
        assert TRANSITIONS[state] == frozenset()
