"""A worker that dies mid-job never leaves the job "running": its pool child killed (Celery re-delivers),
the whole worker killed and restarted (its start-up takes the job back), or killed for good (another
worker's sweep takes it back after the heartbeats stop); and a job whose message was lost runs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import psutil
import pytest
from django.utils import timezone

from apps.jobs import events
from apps.jobs.models import Job
from tests.conftest import Stack, stop_process
from tests.integration.helpers import job_state, logged_in, submit, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_killed_worker_child_job_is_rerun(stack):
    _, client = logged_in("frank")
    job = submit(client, "sleep", {"steps": 30, "step_seconds": 0.1})
    wait_for(lambda: Job.objects.get(pk=job.pk).step >= 3, what="job running")
    children = psutil.Process(stack.worker.pid).children()
    assert children, "prefork worker has a pool child"
    for child in children:
        child.send_signal(signal.SIGKILL)
    wait_for(lambda: job_state(job) in ("succeeded", "failed"), timeout=60, what="job finished")
    assert job.state == "succeeded"
    assert job.attempts == 2
    messages = [e.data.get("message") for e in job.events.filter(kind="state")]
    assert "Worker lost; running again" in messages


def test_killed_whole_worker_job_is_recovered_on_restart(stack):
    _, client = logged_in("gina")
    job = submit(client, "sleep", {"steps": 30, "step_seconds": 0.1})
    wait_for(lambda: Job.objects.get(pk=job.pk).step >= 3, what="job running")
    main = psutil.Process(stack.worker.pid)
    for proc in [*main.children(), main]:
        proc.send_signal(signal.SIGKILL)
    stack.worker.wait()
    assert job_state(job) == "running"  # nobody has noticed yet
    stack.start_worker()
    wait_for(lambda: job_state(job) in ("succeeded", "failed"), timeout=60, what="job finished")
    assert job.state == "succeeded"
    messages = [e.data.get("message") for e in job.events.filter(kind="state")]
    assert "Worker restarted; running again" in messages


# Workers that beat every second and take a job back after 6 s of silence (the stack's own worker
# keeps the defaults, so the tests above see it recover a job only on its restart).
FAST_SWEEP = {"STUDIO_HEARTBEAT_S": "1", "STUDIO_WORKER_DEAD_AFTER_S": "6", "STUDIO_SWEEP_S": "1",
              "STUDIO_REQUEUE_LOST_AFTER_S": "2"}


@pytest.fixture(scope="module")
def fleet(stack: Stack) -> Iterator[dict[str, subprocess.Popen]]:
    """Two more workers beside the stack's: the three of them by name."""
    workers = {"b": stack.extra_worker("b", **FAST_SWEEP), "c": stack.extra_worker("c", **FAST_SWEEP)}
    yield {"test": stack.worker, **workers}
    for proc in workers.values():
        stop_process(proc)


def test_a_job_whose_worker_is_lost_for_good_ends_on_another(stack: Stack,
                                                             fleet: dict[str, subprocess.Popen]) -> None:
    _, client = logged_in("hana")
    job = submit(client, "sleep", {"steps": 40, "step_seconds": 0.1})
    wait_for(lambda: Job.objects.get(pk=job.pk).step >= 3, what="job running")
    job.refresh_from_db()
    victim_name, lost = job.worker.split("@")[0], job.worker
    victim = psutil.Process(fleet[victim_name].pid)
    for proc in [*victim.children(), victim]:
        proc.send_signal(signal.SIGKILL)  # the whole machine, as it were; never restarted
    fleet[victim_name].wait()
    killed_at = time.monotonic()
    try:
        wait_for(lambda: job_state(job) in ("succeeded", "failed"), timeout=90, what="job finished elsewhere")
        took = time.monotonic() - killed_at
        assert job.state == "succeeded" and job.worker != lost and job.attempts == 2, (job.state, job.error)
        assert took < 90
        messages = [e.data.get("message") for e in job.events.filter(kind="state")]
        assert f"Worker lost (its worker ({lost}) was silent for over 6 s); queued again" in messages
        assert list(job.events.values_list("seq", flat=True)) == list(range(1, job.last_seq + 1))
        assert job.files.filter(role="result").count() == 1
    finally:
        if victim_name == "test":
            stack.start_worker()  # the other tests' worker


def test_a_queued_job_whose_message_was_lost_is_sent_again(stack: Stack,
                                                          fleet: dict[str, subprocess.Popen]) -> None:
    """A job row queued with no message anywhere in Redis (as after a Redis restart without
    persistence) is found by a worker's sweep and run."""
    user, _ = logged_in("ines")
    job = Job.objects.create(owner=user, kind="sleep", params={"steps": 2, "step_seconds": 0},
                             task_id=str(uuid.uuid4()))
    events.record(job, "state", {"state": "queued", "message": "Queued", "step": 0, "total": 0})
    lost_id = job.task_id
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(seconds=10))
    wait_for(lambda: job_state(job) == "succeeded", timeout=30, what="the lost job to be sent again and run")
    assert job.task_id != lost_id and job.attempts == 1


def test_a_worker_that_comes_back_writes_nothing_into_the_new_attempt(
        stack: Stack, fleet: dict[str, subprocess.Popen]) -> None:
    """A worker frozen mid-job (SIGSTOP: a machine that stalls, then returns) loses its job to
    another worker; woken up after that job has ended, none of its writes land."""
    _, client = logged_in("jana")
    job = submit(client, "sleep", {"steps": 60, "step_seconds": 0.1})
    wait_for(lambda: Job.objects.get(pk=job.pk).step >= 3, what="job running")
    job.refresh_from_db()
    frozen = fleet[job.worker.split("@")[0]]
    os.killpg(frozen.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: job_state(job) in ("succeeded", "failed"), timeout=90, what="job finished elsewhere")
    finally:
        os.killpg(frozen.pid, signal.SIGCONT)
    assert job.state == "succeeded" and job.attempts == 2, job.error
    ended = (job.last_seq, job.files.count(), job.message)
    time.sleep(3)  # the woken attempt reports, is refused, and stops at its next progress check
    job.refresh_from_db()
    assert (job.last_seq, job.files.count(), job.message) == ended
    assert job.state == "succeeded" and job.files.filter(role="result").count() == 1
    assert frozen.poll() is None  # the worker itself lives on
