"""Pushes to the real Redis channel layer from a worker's threads: one kept connection for all of a
process's events (not a new one per event), in order, also after a fork, and a stuck push is given
up (the job never waits for its pushes)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer

from apps.jobs import events
from studio import settings as studio_settings
from tests.apps.conftest import make_job
from tests.conftest import require_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def layer(settings: Any) -> Iterator[RedisChannelLayer]:
    """The studio's layer on the test Redis, its connections named so the server can count them."""
    require_services()
    name = f"push-test-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {
        "hosts": [{"address": settings.REDIS_URL, "client_name": name}], "prefix": name}}}
    pushing = get_channel_layer()
    assert isinstance(pushing, RedisChannelLayer)
    yield pushing
    assert events.flush_pushes(10)
    events._pusher().run(pushing.close_pools(), 5)


@pytest.fixture
def watcher(layer: RedisChannelLayer) -> Iterator[RedisChannelLayer]:
    """A second layer object on the same Redis and prefix, playing the job page's consumer."""
    other = RedisChannelLayer(hosts=[studio_settings.REDIS_URL], prefix=layer.prefix)
    yield other
    async_to_sync(other.flush)()


def named_connections(layer: RedisChannelLayer) -> int:
    name = layer.hosts[0]["client_name"]
    return sum(c["name"] == name for c in redis.Redis.from_url(studio_settings.REDIS_URL).client_list())


def watch(watcher: RedisChannelLayer, group: str) -> None:
    async_to_sync(watcher.group_add)(group, "watch")


def received(watcher: RedisChannelLayer, count: int) -> list[int]:
    async def take() -> list[int]:
        return [(await asyncio.wait_for(watcher.receive("watch"), 10))["event"]["seq"] for _ in range(count)]

    return async_to_sync(take)()


def test_it_pushes_every_event_over_one_kept_connection(alice: Any, layer: RedisChannelLayer,
                                                        watcher: RedisChannelLayer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pools: list[Any] = []
    create_pool = layer.create_pool
    monkeypatch.setattr(layer, "create_pool", lambda index: pools.append(create_pool(index)) or pools[-1])
    job = make_job(alice)  # seq 1, pushed before anyone listens
    assert events.flush_pushes(5)
    watch(watcher, job.group_name)
    for step in range(1, 6):  # the job's own thread
        events.record(job, "progress", {"step": step, "total": 10}, step=step, total=10)
    message = {"seq": 7, "kind": "log", "data": {"message": "Cancel seen"}, "at": ""}
    watchdog = threading.Thread(target=lambda: events.broadcast(job.pk, message))
    watchdog.start()  # the cancel watchdog's thread pushes too
    watchdog.join()
    assert received(watcher, 6) == [2, 3, 4, 5, 6, 7]
    assert len(pools) == 1  # async_to_sync made a pool, and a connection, for each of the 7 pushes
    assert named_connections(layer) == 1  # ... and closed each with its loop


def test_a_forked_pool_process_pushes_on_a_loop_of_its_own(alice: Any, layer: RedisChannelLayer,
                                                           watcher: RedisChannelLayer) -> None:
    job = make_job(alice)  # the parent's push loop is running now
    assert events.flush_pushes(5)
    watch(watcher, job.group_name)
    pid = os.fork()  # as Celery's prefork pool does
    if pid == 0:
        try:
            events._pusher().run(layer.group_send(job.group_name, {
                "type": "job.event", "event": {"seq": 42, "kind": "log", "data": {}, "at": ""}}), 5)
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert received(watcher, 1) == [42]
    events.record(job, "log", {"message": "the parent still pushes"})
    assert received(watcher, 1) == [2]


class StuckLayer(BaseChannelLayer):
    """A channel layer whose sends never finish, like a Redis that stopped answering."""

    cancelled = threading.Event()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            StuckLayer.cancelled.set()
            raise


def test_it_gives_up_a_stuck_push_and_goes_on(alice: Any, settings: Any, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.StuckLayer"}}
    monkeypatch.setattr(events, "PUSH_TIMEOUT_SECONDS", 0.2)
    job = make_job(alice)
    with caplog.at_level(logging.WARNING, logger="apps.jobs.events"):
        events.record(job, "log", {"message": "stored all the same"})
        assert list(job.events.values_list("seq", "data"))[-1] == (2, {"message": "stored all the same"})
        assert events.flush_pushes(5)  # given up after the timeout
    assert StuckLayer.cancelled.is_set()  # the push was cancelled, not left running on the loop
    assert any("could not push" in r.getMessage() for r in caplog.records)

