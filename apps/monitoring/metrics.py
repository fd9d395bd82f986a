"""Prometheus metrics, read at scrape time from where the truth is: the queues' lengths from Redis,
everything about jobs from the database, GPU memory from Redis (where the GPU processes publish it).
So every web process serves the same figures, whichever process or worker did the work, and nothing
is lost when a process restarts.

Exported (prefix ``studio_``):
  queue_depth{queue}                      messages waiting in each Celery queue
  jobs{tool,state}                        jobs by tool and state
  job_duration_seconds{tool,variant}      summary (count, sum) of finished jobs' run time, start to end
  job_wait_seconds{tool}                  summary of the time finished jobs waited in the queue
  job_failures_total{tool}                failed jobs
  model_loads_total{cache}                model loads by workers: "hit" (already in memory) or "miss"
  gpu_memory_bytes{worker,device,kind}    CUDA memory of each GPU process (workers, serve_invoke) as it
                                          last published it to Redis (apps/monitoring/gpu.py); kind:
                                          allocated, reserved, peak, total. None without a GPU
  invoke_queue_depth{tool}                synchronous invokes waiting for the invoke server
  invoke_requests_total{tool,model}       invokes answered, per tool and model version
  invoke_passes_total{tool,model}         forward passes that answered them (requests / passes is the
                                          mean dynamic batch)
  invoke_seconds_total{tool,model}        time the invoke server spent answering
  invoke_errors_total{tool}               invokes answered with an error
  scrape_seconds                          how long reading all this took
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, QuerySet, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from apps.catalog.models import DriftReport
from apps.jobs.models import Job, JobState

from . import store
from .gpu import KINDS, read_gpu_memory

QUEUES = ("gpu", "cpu")


def _seconds(delta: Any) -> float:
    return delta.total_seconds() if delta is not None else 0.0


class StudioCollector(Collector):
    def collect(self) -> Iterator[Any]:
        started = time.monotonic()
        yield _queue_depth()
        yield _jobs()
        finished = Job.objects.filter(state__in=[JobState.SUCCEEDED, JobState.FAILED],
                                      started_at__isnull=False, finished_at__isnull=False)
        yield _durations(finished)
        yield _waits(finished)
        yield _failures()
        yield _model_loads()
        yield _gpu_memory()
        yield from _invokes()
        yield from _drift()
        yield GaugeMetricFamily("studio_scrape_seconds", "Time to read these metrics",
                                value=time.monotonic() - started)


def _drift() -> Iterator[GaugeMetricFamily]:
    """Each version's latest drift report (apps/catalog/drift.py): PSI per feature, and 1 while it
    alarms."""
    psi = GaugeMetricFamily("studio_drift_psi", "Population stability index of captured traffic against "
                            "the training data, latest report", labels=["version", "feature"])
    alarm = GaugeMetricFamily("studio_drift_alarm", "1 when the latest drift report alarms",
                              labels=["version"])
    seen = set()
    for report in DriftReport.objects.select_related("version").order_by("-created_at")[:1000]:
        if report.version_id in seen:
            continue
        seen.add(report.version_id)
        label = f"{report.version.family}/v{report.version.version}"
        for feature, figures in report.figures.get("features", {}).items():
            psi.add_metric([label, feature], figures["psi"])
        alarm.add_metric([label], 1.0 if report.alarms else 0.0)
    yield psi
    yield alarm


def _queue_depth() -> GaugeMetricFamily:
    depth = GaugeMetricFamily("studio_queue_depth", "Messages waiting in a Celery queue", labels=["queue"])
    for queue, length in queue_lengths().items():
        depth.add_metric([queue], length)
    return depth


def _jobs() -> GaugeMetricFamily:
    jobs = GaugeMetricFamily("studio_jobs", "Jobs by tool and state", labels=["tool", "state"])
    for kind, state, n in Job.objects.values_list("kind", "state").annotate(n=Count("id")).order_by():
        jobs.add_metric([kind, state], n)
    return jobs


def _durations(finished: QuerySet[Job]) -> SummaryMetricFamily:
    run = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    summary = SummaryMetricFamily("studio_job_duration_seconds", "Run time of finished jobs",
                                  labels=["tool", "variant"])
    rows = (finished.values_list("kind", "variant__endpoint__family", "variant__name")
            .annotate(n=Count("id"), total=Sum(run)).order_by())
    for kind, family, name, n, total in rows:
        variant = f"{family}/{name}" if name else ""
        summary.add_metric([kind, variant], count_value=n, sum_value=_seconds(total))
    return summary


def _waits(finished: QuerySet[Job]) -> SummaryMetricFamily:
    wait = ExpressionWrapper(F("started_at") - F("created_at"), output_field=DurationField())
    summary = SummaryMetricFamily("studio_job_wait_seconds", "Time finished jobs waited in the queue",
                                  labels=["tool"])
    for kind, n, total in finished.values_list("kind").annotate(n=Count("id"), total=Sum(wait)).order_by():
        summary.add_metric([kind], count_value=n, sum_value=_seconds(total))
    return summary


def _failures() -> CounterMetricFamily:
    failures = CounterMetricFamily("studio_job_failures", "Failed jobs", labels=["tool"])
    failed = Job.objects.filter(state=JobState.FAILED)
    for kind, n in failed.values_list("kind").annotate(n=Count("id")).order_by():
        failures.add_metric([kind], n)
    return failures


def _model_loads() -> CounterMetricFamily:
    loads = CounterMetricFamily("studio_model_loads", "Model loads by workers, by cache outcome",
                                labels=["cache"])
    used = Job.objects.filter(state=JobState.SUCCEEDED).exclude(model=None)
    for outcome, n in used.values_list("result__model__cache").annotate(n=Count("id")).order_by():
        if outcome in ("hit", "miss"):
            loads.add_metric([outcome], n)
    return loads


def _gpu_memory() -> GaugeMetricFamily:
    memory = GaugeMetricFamily("studio_gpu_memory_bytes", "CUDA memory of GPU processes, as last published",
                               labels=["worker", "device", "kind"])
    for row in read_gpu_memory():
        for kind in KINDS:
            memory.add_metric([row.worker, str(row.device), kind], getattr(row, kind))
    return memory


def _invokes() -> Iterator[Any]:
    """The invoke server's counters (apps/serving/stats.py) and waiting requests, from Redis."""
    import redis

    from apps.serving import stats
    from apps.serving.batcher import QUEUES

    depth = GaugeMetricFamily("studio_invoke_queue_depth", "Synchronous invokes waiting", labels=["tool"])
    families = {name: CounterMetricFamily(f"studio_invoke_{name}", help_text, labels=["tool", "model"])
                for name, help_text in (("requests", "Invokes answered"),
                                        ("passes", "Forward passes that answered invokes"),
                                        ("seconds", "Time the invoke server spent answering"))}
    errors = CounterMetricFamily("studio_invoke_errors", "Invokes answered with an error", labels=["tool"])
    try:
        client = store.client()
        for key, tool in QUEUES.items():
            depth.add_metric([tool], int(client.llen(key)))
        rows = stats.read(client)
    except redis.RedisError:
        rows = []
    for row in rows:
        if row.errors:
            errors.add_metric([row.tool], row.errors)
        if row.requests:
            families["requests"].add_metric([row.tool, row.model], row.requests)
            families["passes"].add_metric([row.tool, row.model], row.batches)
            families["seconds"].add_metric([row.tool, row.model], row.seconds)
    yield depth
    yield from families.values()
    yield errors


def queue_lengths() -> dict[str, int]:
    """Messages waiting per Celery queue (Redis lists named after the queues); -1 if Redis is down."""
    import redis

    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
        return {queue: int(client.llen(queue)) for queue in QUEUES}
    except redis.RedisError:
        return {queue: -1 for queue in QUEUES}
