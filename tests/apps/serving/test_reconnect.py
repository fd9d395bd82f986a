"""The invoke server waits out a Redis that went away (a restart) as the Celery worker does: one
line when it goes, tries after 1, 2, 4 ... 30 s, one line when it is back, and it keeps serving.
A stand-in client; the real Redis restart is tests/integration/test_runstudio_restarts.py."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis

from apps.serving.batcher import Batcher


class FlakyRedis:
    """Each BLPOP as ``script`` says: "x" fails as a Redis that closed the connection, "." finds
    nothing. The server is stopped when the script is done."""

    def __init__(self, script: str) -> None:
        self.script, self.calls = script, 0

    def blpop(self, keys: list[str], timeout: float) -> Any:
        self.calls += 1
        if self.script[self.calls - 1] == "x":
            raise redis.ConnectionError("Connection closed by server.")
        return None


def serve(script: str) -> list[float]:
    client, slept = FlakyRedis(script), []
    Batcher(client=client).serve(stop=lambda: client.calls >= len(script), sleep=slept.append)
    return slept


def test_it_waits_longer_each_try_and_serves_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="apps.serving.batcher")
    assert serve("..xxx..") == [1, 2, 4]  # and it went on asking after Redis came back
    assert [r.getMessage() for r in caplog.records] == [
        "Redis unreachable (Connection closed by server.); trying again after 1, 2, 4 ... 30 s",
        "Redis is back after 0 s; serving invokes again"]


def test_the_wait_stops_growing_at_30_s() -> None:
    assert serve("xxxxxxxx.") == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_second_outage_starts_again_at_1_s() -> None:
    assert serve("xx.xx.") == [1, 2, 1, 2]
