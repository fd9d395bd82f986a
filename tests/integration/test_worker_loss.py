"""A worker that dies mid-job never leaves the job "running"."""

from __future__ import annotations

import signal

import psutil
import pytest

from apps.jobs.models import Job
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
