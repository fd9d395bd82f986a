"""Counters of the invoke server's work, kept in Redis so /metrics (any web process) can read what
every invoke server did: requests, forward passes and their time per tool and model version, and
failed requests per tool. Their ratio is the figure dynamic batching is for: requests per pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATS_KEY = "studio:invoke:stats"  # one hash; fields "<tool>|<model>|<counter>"
COUNTERS = ("requests", "batches", "seconds", "errors")


@dataclass(frozen=True)
class InvokeStats:
    tool: str
    model: str  # the version's label; "" for failures, which may have no model
    requests: int = 0
    batches: int = 0  # forward passes (one per model version in a gathered batch)
    seconds: float = 0.0  # time spent answering, summed over passes
    errors: int = 0  # requests answered with an error


def record(pipe: Any, tool: str, model: str, requests: int, seconds: float, failed: bool) -> None:
    """Add one answered pass to the counters, on ``pipe`` (a Redis pipeline the caller executes)."""
    if failed:
        pipe.hincrby(STATS_KEY, f"{tool}||errors", requests)
        return
    pipe.hincrby(STATS_KEY, f"{tool}|{model}|requests", requests)
    pipe.hincrby(STATS_KEY, f"{tool}|{model}|batches", 1)
    pipe.hincrbyfloat(STATS_KEY, f"{tool}|{model}|seconds", seconds)


def read(client: Any) -> list[InvokeStats]:
    """The counters, one row per tool and model, from a Redis client."""
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for field, value in client.hgetall(STATS_KEY).items():
        parts = (field.decode() if isinstance(field, bytes) else field).rsplit("|", 2)
        if len(parts) != 3 or parts[2] not in COUNTERS:
            continue
        rows.setdefault((parts[0], parts[1]), {})[parts[2]] = float(value)
    return [InvokeStats(tool, model, requests=int(c.get("requests", 0)), batches=int(c.get("batches", 0)),
                        seconds=c.get("seconds", 0.0), errors=int(c.get("errors", 0)))
            for (tool, model), c in sorted(rows.items())]
