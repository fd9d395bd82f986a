"""The Redis the monitoring figures are read from and written to (GPU memory, the invoke server's
counters): short timeouts, so a scrape, an admin page or a job never hangs on a Redis that is down.
A new client per call: these are a few calls a minute, and tests point REDIS_URL elsewhere."""

from __future__ import annotations

import redis
from django.conf import settings


def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
