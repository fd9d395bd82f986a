"""/metrics from daphne against the real Redis broker: the queue depths are real lengths (not the
-1 of an unreachable broker), and a job run by the real worker shows in the counts."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .helpers import is_terminal, logged_in, open_socket, read_events, submit

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_metrics_read_the_real_queues_and_jobs(stack: Any) -> None:
    _, client = logged_in("metrics-user")
    job = submit(client, "sleep", {"steps": 2, "step_seconds": 0})
    with open_socket(stack, client, job) as ws:
        read_events(ws, is_terminal)
    text = urllib.request.urlopen(f"{stack.base_url}/metrics", timeout=30).read().decode()
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for family in text_string_to_metric_families(text) for s in family.samples}
    assert got[("studio_queue_depth", (("queue", "gpu"),))] >= 0
    assert got[("studio_queue_depth", (("queue", "cpu"),))] >= 0
    assert got[("studio_jobs", (("state", "succeeded"), ("tool", "sleep")))] >= 1
    assert got[("studio_job_duration_seconds_count", (("tool", "sleep"), ("variant", "")))] >= 1
