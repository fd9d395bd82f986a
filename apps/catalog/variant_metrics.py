"""Per-variant figures for an endpoint's A/B test, side by side: traffic, errors, latency and (for
sentiment) how the scores spread. Read from the jobs each variant served."""

from __future__ import annotations

from typing import Any

from django.db.models import F

from .models import Endpoint

RECENT = 10_000  # jobs per variant the figures are computed from (the newest)
SCORE_BINS = 10


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by the nearest-rank method; None for no values."""
    if not sorted_values:
        return None
    rank = max(1, round(q * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def report(endpoint: Endpoint) -> list[dict[str, Any]]:
    """One row per variant: name, version, weight, share of the weight, jobs, finished, failed,
    error rate, latency p50/p95/p99 in seconds (submit to end), and for sentiment the counts of
    scores in ten bins from 0 to 1."""
    variants = list(endpoint.variants.select_related("version").order_by("name"))
    total_weight = sum(v.weight for v in variants) or 1
    rows = []
    for variant in variants:
        timed = variant.jobs.annotate(latency=F("finished_at") - F("created_at")).order_by("-created_at")
        jobs = list(timed.values_list("state", "latency", "result")[:RECENT])
        finished = [job for job in jobs if job[0] in ("succeeded", "failed")]
        failed = sum(1 for state, _, _ in finished if state == "failed")
        latencies = sorted(lat.total_seconds() for state, lat, _ in finished if lat is not None)
        row: dict[str, Any] = {
            "variant": variant, "name": variant.name, "version": variant.version.label,
            "weight": variant.weight, "share": round(100 * variant.weight / total_weight, 1),
            "jobs": len(jobs), "finished": len(finished),
            "failed": failed, "error_rate": round(failed / len(finished), 4) if finished else None,
            "p50": percentile(latencies, 0.50), "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99),
        }
        if endpoint.family == "sentiment":
            bins = [0] * SCORE_BINS
            for state, _, result in finished:
                p = (result or {}).get("probability")
                if state == "succeeded" and isinstance(p, (int, float)):
                    bins[min(int(p * SCORE_BINS), SCORE_BINS - 1)] += 1
            row["scores"] = bins
            row["score_peak"] = max(bins) or 1
        rows.append(row)
    return rows
