"""Synchronous sentiment invoke with dynamic batching: requests wait in a Redis list; one server
process takes the first, gathers whatever else arrives within a few milliseconds (up to a batch),
scores them all in one forward pass and answers each on its own reply key.

The API view (apps/api/invoke.py) pushes ``{"id", "text"}`` to ``QUEUE`` and waits on
``reply_key(id)``. ``max_batch=1`` is the one-request-one-forward baseline (bench/serving.py).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.db import close_old_connections, connections

from apps.tools.sentiment import load_sentiment
from ml.sentiment.predict import predict_many

log = logging.getLogger(__name__)

QUEUE = "studio:invoke:sentiment"
REPLY_TTL_S = 60  # an answer nobody collected (the client gave up) is dropped after this


def reply_key(request_id: str) -> str:
    return f"studio:invoke:reply:{request_id}"


@dataclass
class Batcher:
    max_batch: int = 64
    window_ms: float = 5.0  # how long to gather after the first request
    client: Any = None

    def __post_init__(self) -> None:
        if self.client is None:
            self.client = redis.Redis.from_url(settings.REDIS_URL)

    def gather(self, block_s: float = 1.0) -> list[dict[str, Any]]:
        """The next batch: blocks up to ``block_s`` for a first request, then collects for
        ``window_ms`` or until ``max_batch``. [] when nothing came."""
        first = self.client.blpop([QUEUE], timeout=block_s)
        if first is None:
            return []
        batch = [json.loads(first[1])]
        deadline = time.monotonic() + self.window_ms / 1000
        while len(batch) < self.max_batch and time.monotonic() < deadline:
            more = self.client.lpop(QUEUE, self.max_batch - len(batch))
            if more:
                batch.extend(json.loads(m) for m in more)
            else:
                time.sleep(0.0002)
        return batch

    def answer(self, batch: list[dict[str, Any]]) -> None:
        """Score the batch in one forward pass and reply to each request."""
        try:
            loaded = load_sentiment()
            scores = predict_many(loaded.model, [r["text"] for r in batch], chunk=max(len(batch), 1))
            replies = [{"probability": p, "label": "positive" if p >= 0.5 else "negative",
                        "model": loaded.version.label, "batch": len(batch)} for p in scores]
        except Exception as exc:  # every waiting client hears why, instead of timing out
            log.exception("invoke batch failed")
            replies = [{"error": f"{type(exc).__name__}: {exc}"} for _ in batch]
        pipe = self.client.pipeline(transaction=False)
        for request, reply in zip(batch, replies, strict=True):
            key = reply_key(request["id"])
            pipe.rpush(key, json.dumps(reply))
            pipe.expire(key, REPLY_TTL_S)
        pipe.execute()

    def serve(self, stop: Any = None) -> None:
        """Answer batches until ``stop()`` (a callable) says so."""
        try:
            while not (stop and stop()):
                batch = self.gather()
                if batch:
                    close_old_connections()  # a long-lived process: drop a stale database link
                    self.answer(batch)
        finally:
            connections.close_all()
