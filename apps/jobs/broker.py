"""What the Celery broker (Redis) still holds, so the sweep can tell a queued job that is waiting
from one whose message was lost (Redis restarted without persistence, a task acknowledged while the
database was down)."""

from __future__ import annotations

import json
import logging

import redis
from django.conf import settings

log = logging.getLogger(__name__)

# kombu's Redis transport keeps a queue as a list named after it, plus one list per priority step
# (name + "\x06\x16" + step); messages delivered to a worker and not yet acknowledged stay in the
# "unacked" hash until they are (kombu/transport/redis.py).
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)
UNACKED = "unacked"


def held_task_ids(queues: set[str]) -> set[str] | None:
    """The ids of the task messages waiting in ``queues`` or delivered and not yet acknowledged;
    None when the broker cannot be asked (not Redis, or unreachable): then nothing is re-sent."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        ids: set[str] = set()
        for queue in sorted(queues):
            for name in [queue, *(f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS)]:
                ids.update(_task_id(raw) for raw in client.lrange(name, 0, -1))
        for raw in client.hvals(UNACKED):
            ids.add(_task_id(raw, delivered=True))
        client.close()
    except redis.RedisError as exc:
        log.info("sweep: could not read the broker (%s); lost messages are looked for next time", exc)
        return None
    ids.discard("")
    return ids


def _task_id(raw: bytes | str, delivered: bool = False) -> str:
    """A message's task id ("" if it is not a Celery task message)."""
    try:
        message = json.loads(raw)
        if delivered:  # [message, exchange, routing key]
            message = message[0]
        return str(message["headers"]["id"])
    except (ValueError, KeyError, TypeError, IndexError):
        return ""
