"""Per-variant figures for an endpoint's A/B test, side by side: traffic, errors, latency and (for
sentiment) how the scores spread, read from the jobs each variant served; and the synchronous
invokes its version answered, from the invoke server's counters in Redis."""

from __future__ import annotations

import math
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


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion (95 % at z = 1.96): unlike p +- z * se it stays
    inside 0..1 and is honest for a handful of ratings. None for no trials."""
    if not trials:
        return None
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def report(endpoint: Endpoint) -> list[dict[str, Any]]:
    """One row per variant: name, version, weight, share of the weight, jobs, finished, failed,
    error rate, latency p50/p95/p99 in seconds (submit to end), the owners' thumbs up and down with
    the preference rate (up / rated) and its 95 % interval, and for sentiment the counts of scores
    in ten bins from 0 to 1."""
    variants = list(endpoint.variants.select_related("version").order_by("name"))
    invokes = invoke_totals(endpoint.family)
    total_weight = sum(v.weight for v in variants) or 1
    rows = []
    for variant in variants:
        timed = variant.jobs.annotate(latency=F("finished_at") - F("created_at")).order_by("-created_at")
        jobs = list(timed.values_list("state", "latency", "result", "rating")[:RECENT])
        finished = [job for job in jobs if job[0] in ("succeeded", "failed")]
        failed = sum(1 for state, *_ in finished if state == "failed")
        latencies = sorted(lat.total_seconds() for state, lat, *_ in finished if lat is not None)
        up, down = (sum(1 for *_, rating in jobs if rating == value) for value in (1, -1))
        row: dict[str, Any] = {
            "variant": variant, "name": variant.name, "version": variant.version.label,
            "weight": variant.weight, "share": round(100 * variant.weight / total_weight, 1),
            "jobs": len(jobs), "finished": len(finished),
            "failed": failed, "error_rate": round(failed / len(finished), 4) if finished else None,
            "p50": percentile(latencies, 0.50), "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99),
            "invokes": invokes.get(variant.version.label),
            "up": up, "down": down, "preference": up / (up + down) if up + down else None,
            "preference_ci": wilson(up, up + down),
        }
        if endpoint.family == "sentiment":
            bins = [0] * SCORE_BINS
            for state, _, result, _ in finished:
                p = (result or {}).get("probability")
                if state == "succeeded" and isinstance(p, (int, float)):
                    bins[min(int(p * SCORE_BINS), SCORE_BINS - 1)] += 1
            row["scores"] = bins
            row["score_peak"] = max(bins) or 1
        rows.append(row)
    return rows


def invoke_totals(family: str) -> dict[str, dict[str, float]]:
    """Per model version of ``family``: synchronous invokes answered, the mean requests per forward
    pass, and the mean milliseconds per pass. Counted per version, so an invoke the version answered
    as the family's active one (no endpoint then) counts too. {} when Redis cannot be read."""
    import redis

    from apps.monitoring import store
    from apps.serving import stats
    from apps.serving.invokers import INVOKERS

    try:
        rows = stats.read(store.client())
    except redis.RedisError:
        return {}
    totals: dict[str, dict[str, float]] = {}
    for row in rows:
        if row.model and row.tool in INVOKERS and INVOKERS[row.tool][0] == family:
            t = totals.setdefault(row.model, {"requests": 0, "passes": 0, "seconds": 0.0})
            t["requests"] += row.requests
            t["passes"] += row.batches
            t["seconds"] += row.seconds
    return {model: {"requests": t["requests"], "batch": round(t["requests"] / t["passes"], 1),
                    "ms_per_pass": round(1000 * t["seconds"] / t["passes"], 1)}
            for model, t in totals.items() if t["passes"]}
