"""Synchronous invokes with dynamic batching: requests wait in one Redis list per tool; the server
takes the first request of any list, gathers whatever else arrives in that list within a few
milliseconds (up to a batch), answers them together (apps/serving/invokers.py: one forward pass for
sentiment and DCGAN) and replies to each on its own reply key.

The API view (apps/api/invoke.py) pushes ``{"id", "version", ...}`` to ``queue_key(tool)`` and waits
on ``reply_key(id)``. ``version`` is the model version of the endpoint variant the request was routed
to (None: the active one); requests for different versions of one batch are answered per version.
``max_batch=1`` is the one-request-one-forward baseline (bench/serving.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.db import close_old_connections, connections

from apps.catalog.loading import pinned
from apps.catalog.models import ModelVersion
from apps.monitoring.gpu import publish_gpu_memory

from . import stats
from .invokers import INVOKERS

log = logging.getLogger(__name__)

REPLY_TTL_S = 60  # an answer nobody collected (the client gave up) is dropped after this
RETRY_CEILING_S = 30.0  # the longest wait between tries to reach a Redis that is gone


def queue_key(tool: str) -> str:
    return f"studio:invoke:{tool}"


QUEUE = queue_key("sentiment")
QUEUES = {queue_key(tool): tool for tool in INVOKERS}


def reply_key(request_id: str) -> str:
    return f"studio:invoke:reply:{request_id}"


@dataclass
class Batcher:
    max_batch: int = 64
    window_ms: float = 5.0  # how long to gather after the first request
    client: Any = None

    def __post_init__(self) -> None:
        if self.client is None:
            # A read timeout well above gather()'s 1 s BLPOP: a Redis that vanished without closing
            # the connection (a host gone) is noticed instead of waited on for ever.
            self.client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5,
                                               socket_timeout=15)

    def gather(self, block_s: float = 1.0) -> tuple[str, list[dict[str, Any]]]:
        """The next batch and its tool: blocks up to ``block_s`` for a first request in any queue,
        then collects from that queue for ``window_ms`` or until ``max_batch``. ("", []) when
        nothing came."""
        first = self.client.blpop(list(QUEUES), timeout=block_s)
        if first is None:
            return "", []
        key = first[0].decode() if isinstance(first[0], bytes) else first[0]
        batch = [json.loads(first[1])]
        deadline = time.monotonic() + self.window_ms / 1000
        while len(batch) < self.max_batch and time.monotonic() < deadline:
            more = self.client.lpop(key, self.max_batch - len(batch))
            if more:
                batch.extend(json.loads(m) for m in more)
            else:
                time.sleep(0.0002)
        return QUEUES[key], batch

    def answer(self, tool: str, batch: list[dict[str, Any]]) -> None:
        """Answer the batch, one forward pass per model version in it, and reply to each request."""
        replies: dict[str, dict[str, Any]] = {}
        pipe = self.client.pipeline(transaction=False)
        by_version: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
        for request in batch:
            by_version[request.get("version")].append(request)
        for version_id, requests in by_version.items():
            started = time.perf_counter()
            try:
                version = ModelVersion.objects.get(pk=version_id) if version_id is not None else None
                with pinned(version):
                    answers = INVOKERS[tool][1](requests)
            except Exception as exc:  # every waiting client hears why, instead of timing out
                log.exception("%s invoke batch failed", tool)
                answers = [{"error": f"{type(exc).__name__}: {exc}"} for _ in requests]
            stats.record(pipe, tool, answers[0].get("model", ""), len(requests),
                         time.perf_counter() - started, failed="error" in answers[0])
            replies.update({r["id"]: a for r, a in zip(requests, answers, strict=True)})
        for request_id, reply in replies.items():
            key = reply_key(request_id)
            pipe.rpush(key, json.dumps(reply))
            pipe.expire(key, REPLY_TTL_S)
        pipe.execute()

    def serve(self, stop: Callable[[], bool] | None = None,
              sleep: Callable[[float], None] = time.sleep) -> None:
        """Answer batches until ``stop()`` (a callable) says so. Redis going away (a restart, a
        network fault) is waited out as the Celery worker does: one line, then tries after 1, 2,
        4 ... 30 s, and serving again once it answers. The batch in hand when it went is lost; its
        clients get their timeout (504)."""
        down_since: float | None = None
        wait = 1.0
        try:
            while not (stop and stop()):
                try:
                    tool, batch = self.gather()
                    if down_since is not None:
                        log.warning("Redis is back after %.0f s; serving invokes again",
                                    time.monotonic() - down_since)
                        down_since, wait = None, 1.0
                    if batch:
                        close_old_connections()  # a long-lived process: drop a stale database link
                        self.answer(tool, batch)
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    if down_since is None:
                        down_since = time.monotonic()
                        log.warning("Redis unreachable (%s); trying again after 1, 2, 4 ... %g s",
                                    exc, RETRY_CEILING_S)
                    sleep(wait)
                    wait = min(wait * 2, RETRY_CEILING_S)
                    continue
                publish_gpu_memory("serve_invoke", at_most_every=30.0)  # idle too: figures stay fresh
        finally:
            connections.close_all()
