"""/metrics from daphne against the real Redis broker: the queue depths are real lengths (not the
-1 of an unreachable broker), a job run by the real worker shows in the counts, and GPU figures a
process publishes to Redis show in the server's scrape."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
import redis
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from apps.monitoring import gpu
from ml.common import device
from ml.common.device import CudaMemory
from tests.integration.helpers import logged_in, submit, watch_to_the_end

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def scrape(stack: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = urllib.request.urlopen(f"{stack.base_url}/metrics", timeout=30).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_read_the_real_queues_and_jobs(stack: Any) -> None:
    _, client = logged_in("metrics-user")
    job = submit(client, "sleep", {"steps": 2, "step_seconds": 0})
    assert watch_to_the_end(stack, client, job)[-1]["data"]["state"] == "succeeded"
    got = scrape(stack)
    # Real lengths (an unreachable broker gives -1); nothing is waiting once the job is done.
    assert got[("studio_queue_depth", (("queue", "gpu"),))] == 0
    assert got[("studio_queue_depth", (("queue", "cpu"),))] == 0
    # The database holds this test's job alone (each real-path test starts from an empty one).
    assert got[("studio_jobs", (("state", "succeeded"), ("tool", "sleep")))] == 1
    assert got[("studio_job_duration_seconds_count", (("tool", "sleep"), ("variant", "")))] == 1


def test_gpu_memory_published_to_redis_shows_in_the_servers_scrape(stack: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # This process stands in for a GPU worker (the real worker's path: tests/integration/test_gpu_metrics.py).
    figures = [CudaMemory(0, allocated=1, reserved=2, peak=3, total=4)]
    monkeypatch.setattr(device, "cuda_memory", lambda: figures)
    assert gpu.publish_gpu_memory("live-test")
    worker = gpu.worker_name("live-test")
    got = scrape(stack)
    redis.Redis.from_url(settings.REDIS_URL).delete(f"{gpu.KEY_PREFIX}{worker}:0")
    assert {kind: got[("studio_gpu_memory_bytes", (("device", "0"), ("kind", kind), ("worker", worker)))]
            for kind in gpu.KINDS} == {"allocated": 1, "reserved": 2, "peak": 3, "total": 4}
