"""The production cache (studio/settings.py: django-redis on the real Redis) keeps one connection
pool per process. Under ASGI each request gets a fresh cache object; Django's own Redis backend
opened a new pool and connection with each, on every API request's rate-limit check."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import CacheHandler

from studio import settings as production

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_fresh_cache_objects_share_one_pool_and_count_together() -> None:
    config = {"default": {**production.CACHES["default"], "LOCATION": settings.REDIS_URL,
                          "KEY_PREFIX": "pool-test"}}
    first, second = CacheHandler(config)["default"], CacheHandler(config)["default"]
    assert first is not second  # what two requests' contexts get
    first.delete("hits")
    first.set("hits", 1)
    assert second.incr("hits") == 2  # one Redis behind both: every web process counts together
    pools = {id(c.client.get_client().connection_pool) for c in (first, second)}
    assert len(pools) == 1
    first.delete("hits")
