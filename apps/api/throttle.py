"""The API's rate limit: requests per minute per user (the token's owner; per client address for a
request without one), answered with a 429 and Retry-After.

A sliding-window counter: one count per user and minute, and the estimate is this minute's count
plus the last minute's, weighted by how much of it still lies within the last 60 s. On Redis it is
one round trip (INCR, EXPIRE and GET in a pipeline); the invokes count with ``allow_async``, which
sends the same pipeline without blocking the event loop. ninja's own AuthRateThrottle kept a list of
every request's time in the cache and read and wrote it whole on every request: thousands of
entries at a high limit, two round trips, and concurrent requests overwrote each other's updates.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

WINDOW_S = 60
TTL_S = 2 * WINDOW_S + 5  # a count is read again as "the last minute's" for one more minute


class RateThrottle(BaseThrottle):
    def __init__(self, num_requests: int) -> None:
        self.num_requests = num_requests  # per minute
        self.retry_after: float | None = None

    def allow_request(self, request: HttpRequest) -> bool:
        key, last_key, into = self._keys(request)
        return self._judge(*_count(key, last_key), into)

    async def allow_async(self, request: HttpRequest, client: Any) -> bool:
        """allow_request through ``client`` (a redis.asyncio client on the cache's Redis), for async
        views: a blocking round trip would stall every request the process is serving. Other cache
        backends (the tests') count as allow_request does: they do no I/O."""
        key, last_key, into = self._keys(request)
        if not _is_redis():
            return self._judge(*_count(key, last_key), into)
        counts = await _counting(client.pipeline(transaction=False), key, last_key).execute()
        return self._judge(*_counts(counts), into)

    def _keys(self, request: HttpRequest) -> tuple[str, str, float]:
        """This minute's and the last minute's keys for who asks, and the seconds into this one."""
        user_id = getattr(getattr(request, "auth", None), "pk", None)
        who = f"u{user_id}" if user_id is not None else f"a{self.get_ident(request)}"
        window, into = divmod(time.time(), WINDOW_S)
        return f"throttle:{who}:{int(window)}", f"throttle:{who}:{int(window) - 1}", into

    def _judge(self, current: int, before: int, into: float) -> bool:
        estimate = current + before * (1 - into / WINDOW_S)
        if estimate <= self.num_requests:
            return True
        self.retry_after = max(1.0, math.ceil(WINDOW_S - into))
        return False

    def wait(self) -> float | None:
        return self.retry_after


def _is_redis() -> bool:
    return hasattr(cache, "client") and hasattr(cache.client, "get_client")  # django-redis


def _count(key: str, last_key: str) -> tuple[int, int]:
    """This window's count after adding this request, and the last window's."""
    if _is_redis():  # one round trip
        pipe = cache.client.get_client(write=True).pipeline(transaction=False)  # type: ignore[attr-defined]
        return _counts(_counting(pipe, key, last_key).execute())
    cache.add(key, 0, TTL_S)  # other backends (the tests' local memory): the portable calls
    return int(cache.incr(key)), int(cache.get(last_key) or 0)


def _counting(pipe: Any, key: str, last_key: str) -> Any:
    """``pipe`` (a redis-py pipeline, sync or asyncio) with this request counted in: INCR and
    EXPIRE this minute's key, GET the last minute's; the cache's own key names."""
    full = cache.make_key(key)
    return pipe.incr(full).expire(full, TTL_S).get(cache.make_key(last_key))


def _counts(results: list[Any]) -> tuple[int, int]:
    count, _, last = results
    return int(count), int(last or 0)
