"""GPU memory in /metrics: a job run by the runner publishes its process's CUDA figures (faked here:
this machine may have no GPU) to the real Redis, and a scrape exports them; no GPU, no samples;
Redis down fails neither the job nor the scrape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from apps.jobs import runner
from apps.jobs.models import JobState
from apps.monitoring import gpu
from ml.common import device
from ml.common.device import CudaMemory
from tests.apps.conftest import make_job

pytestmark = pytest.mark.django_db

GiB = 1 << 30
FAKE = [CudaMemory(index=0, allocated=3 * GiB, reserved=4 * GiB, peak=5 * GiB, total=80 * GiB),
        CudaMemory(index=1, allocated=0, reserved=0, peak=0, total=80 * GiB)]


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    """The real Redis of this test run, without anyone's GPU figures before or after (nor a
    publish by an earlier test holding back a throttled one)."""
    monkeypatch.setitem(gpu._last_published, "at", float("-inf"))
    client = redis.Redis.from_url(django_settings.REDIS_URL)

    def clear() -> None:
        for key in client.scan_iter(match=f"{gpu.KEY_PREFIX}*"):
            client.delete(key)

    clear()
    yield client
    clear()


def fake_gpu(monkeypatch: pytest.MonkeyPatch, figures: list[CudaMemory]) -> None:
    monkeypatch.setattr(device, "cuda_memory", lambda: figures)


def gpu_samples() -> dict[tuple[str, str, str], float]:
    response = Client().get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    assert families["studio_gpu_memory_bytes"].type == "gauge"
    return {(s.labels["worker"], s.labels["device"], s.labels["kind"]): s.value
            for s in families["studio_gpu_memory_bytes"].samples}


def run_job(owner: Any, **params: Any) -> str:
    job = make_job(owner, params={"steps": 2, "step_seconds": 0, **params}, task_id="t-1")
    runner.run(str(job.pk), "t-1", "worker-a")
    job.refresh_from_db()
    return job.state


def test_a_job_publishes_gpu_memory_and_metrics_export_it(alice: Any, store: redis.Redis,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu(monkeypatch, FAKE)
    assert run_job(alice) == JobState.SUCCEEDED
    worker = gpu.worker_name("celery")
    got = gpu_samples()
    assert got[(worker, "0", "allocated")] == 3 * GiB
    assert got[(worker, "0", "reserved")] == 4 * GiB
    assert got[(worker, "0", "peak")] == 5 * GiB
    assert got[(worker, "0", "total")] == 80 * GiB
    assert got[(worker, "1", "allocated")] == 0 and got[(worker, "1", "total")] == 80 * GiB
    assert len(got) == 8


def test_the_figures_expire_with_their_process(alice: Any, store: redis.Redis,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu(monkeypatch, FAKE[:1])
    assert run_job(alice) == JobState.SUCCEEDED
    (key,) = store.keys(f"{gpu.KEY_PREFIX}*")
    assert key.decode() == f"{gpu.KEY_PREFIX}{gpu.worker_name('celery')}:0"
    assert 0 < store.ttl(key) <= gpu.TTL_S
    assert abs(float(store.hget(key, "updated") or 0) - time.time()) < 60


def test_a_failed_job_publishes_too(alice: Any, store: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu(monkeypatch, FAKE[:1])
    assert run_job(alice, fail=True) == JobState.FAILED
    assert gpu_samples()[(gpu.worker_name("celery"), "0", "peak")] == 5 * GiB


def test_no_gpu_no_samples(alice: Any, store: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu(monkeypatch, [])
    assert run_job(alice) == JobState.SUCCEEDED
    assert store.keys(f"{gpu.KEY_PREFIX}*") == []
    assert gpu_samples() == {}


def test_redis_down_fails_neither_the_job_nor_the_scrape(alice: Any, settings: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens
    fake_gpu(monkeypatch, FAKE)
    assert run_job(alice) == JobState.SUCCEEDED
    assert gpu.publish_gpu_memory("celery") is False
    assert gpu_samples() == {}


def test_a_running_job_republishes(alice: Any, store: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    """The job's watchdog republishes at its polls (every 0.5 s), then the runner once at the end."""
    calls: list[float] = []
    monkeypatch.setattr(device, "cuda_memory", lambda: calls.append(time.monotonic()) or FAKE[:1])
    monkeypatch.setattr(gpu, "REFRESH_S", 0.0)  # every poll, not once a REFRESH_S
    assert run_job(alice, steps=10, step_seconds=0.23) == JobState.SUCCEEDED  # 2.3 s: four polls
    assert len(calls) >= 4  # several beats, then one at the end
    assert gpu_samples()[(gpu.worker_name("celery"), "0", "allocated")] == 3 * GiB  # and they reach Redis


def test_a_serving_loop_can_publish_on_every_turn(store: redis.Redis,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu(monkeypatch, FAKE[:1])
    assert gpu.publish_gpu_memory("serve_invoke", at_most_every=30) is True
    assert gpu.publish_gpu_memory("serve_invoke", at_most_every=30) is False  # too soon: nothing sent
    assert (gpu.worker_name("serve_invoke"), "0", "reserved") in gpu_samples()


def test_it_skips_hashes_that_are_not_whole(store: redis.Redis) -> None:
    store.hset(f"{gpu.KEY_PREFIX}someone:0", mapping={"worker": "someone", "device": 0})
    assert gpu.read_gpu_memory() == []
