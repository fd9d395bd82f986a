"""GPU memory of the processes that hold it, for /metrics.

The web process that serves /metrics has no GPU: the Celery workers and `manage.py serve_invoke` do.
So each of those publishes its own figures (ml.common.device.cuda_memory) to Redis, and /metrics
reads them at scrape time. One hash per process and device, ``studio:gpu:<worker>:<device>``, with
the fields allocated, reserved, peak, total (bytes), worker, device and updated (unix time). Each
expires TTL_S after it was written, so a dead process's figures disappear by themselves.

<worker> is ``<process>@<host>/<pid>``: ``process`` says what it is ("celery", "serve_invoke"), the
host and pid which one (each prefork pool child has a CUDA allocator of its own, hence the pid).

Publishing never raises: a metric must not fail a job or a batch of invokes.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import redis

from . import store

log = logging.getLogger(__name__)

KEY_PREFIX = "studio:gpu:"
TTL_S = 15 * 60
REFRESH_S = 60.0  # how often a running job republishes (a training job can run for hours, past TTL_S)
KINDS = ("allocated", "reserved", "peak", "total")

_last_published = {"at": float("-inf")}  # time.monotonic() of this process's last publish


@dataclass(frozen=True)
class GpuMemory:
    """One process's figures for one device, as read back from Redis."""

    worker: str
    device: int
    allocated: int
    reserved: int
    peak: int
    total: int
    updated: float


def worker_name(process: str) -> str:
    return f"{process}@{socket.gethostname()}/{os.getpid()}"


def publish_gpu_memory(process: str, *, at_most_every: float = 0.0) -> bool:
    """Write this process's CUDA memory figures to Redis. True when it wrote some; False when CUDA is
    absent or unused here, when the last publish was under ``at_most_every`` seconds ago (so a loop
    can call it on every turn), or when it failed (logged)."""
    now = time.monotonic()
    if now - _last_published["at"] < at_most_every:
        return False
    _last_published["at"] = now
    try:
        from ml.common import device  # torch: only the processes that publish import it from here

        figures = device.cuda_memory()
        if not figures:
            return False
        worker = worker_name(process)
        pipe = store.client().pipeline(transaction=False)
        for f in figures:
            key = f"{KEY_PREFIX}{worker}:{f.index}"
            pipe.hset(key, mapping={"worker": worker, "device": f.index, "allocated": f.allocated,
                                    "reserved": f.reserved, "peak": f.peak, "total": f.total,
                                    "updated": time.time()})
            pipe.expire(key, TTL_S)
        pipe.execute()
        return True
    except Exception as exc:  # Redis down or slow, or a CUDA error: the caller's work goes on
        log.warning("could not publish GPU memory for %s: %s", process, exc)
        return False


def read_gpu_memory() -> list[GpuMemory]:
    """Every process's published figures, sorted by worker and device; [] if Redis is down."""
    try:
        client = store.client()
        keys = sorted(client.scan_iter(match=f"{KEY_PREFIX}*", count=500))
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        hashes: list[dict[bytes, bytes]] = pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not read GPU memory from Redis: %s", exc)
        return []
    return [row for row in map(_parse, hashes) if row is not None]


def _parse(fields: dict[bytes, bytes]) -> GpuMemory | None:
    """None for a hash that expired between the scan and the read, or one that isn't ours."""
    try:
        text: dict[str, Any] = {k.decode(): v.decode() for k, v in fields.items()}
        return GpuMemory(worker=text["worker"], device=int(text["device"]),
                         **{kind: int(text[kind]) for kind in KINDS}, updated=float(text["updated"]))
    except (KeyError, ValueError):  # UnicodeDecodeError is a ValueError
        return None
