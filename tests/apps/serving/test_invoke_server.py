"""The invoke server's work, without HTTP: DCGAN requests share one forward pass and each gets the
grid a job with its n and seed makes; a batch holding requests routed to two versions is answered
by each version; a failure reaches every request of its batch instead of leaving them to time out;
fast style gives the picture the job gives. The HTTP path is tests/integration/test_invoke.py."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from apps.catalog import services
from apps.serving import stats
from apps.serving.batcher import Batcher, reply_key
from apps.tools.context import outside_job
from apps.tools.dcgan import DCGANTool
from apps.tools.fast_style import FastStyleTool
from tests.apps.catalog.test_endpoints import sentiment_version
from tests.apps.serving.tiny_models import dcgan_version, pixels
from tests.apps.tools.fast_style_starter import install_fast_style_starter, photo_bytes

pytestmark = pytest.mark.django_db


class Replies:
    """Stands in for Redis on the reply side: what the batcher sent to each request."""

    def __init__(self) -> None:
        self.sent: dict[str, dict[str, Any]] = {}
        self.counters: dict[str, float] = {}

    def pipeline(self, transaction: bool = False) -> Replies:
        return self

    def rpush(self, key: str, value: str) -> None:
        self.sent[key] = json.loads(value)

    def expire(self, key: str, seconds: int) -> None:
        assert seconds > 0

    def hincrby(self, key: str, field: str, amount: float) -> None:
        assert key == stats.STATS_KEY
        self.counters[field] = self.counters.get(field, 0) + amount

    hincrbyfloat = hincrby

    def hgetall(self, key: str) -> dict[str, float]:
        return self.counters

    def execute(self) -> None:
        pass


def answer(tool: str, requests: list[dict[str, Any]], replies: Replies | None = None) -> list[dict[str, Any]]:
    replies = replies or Replies()
    Batcher(client=replies).answer(tool, requests)
    return [replies.sent[reply_key(r["id"])] for r in requests]


def test_dcgan_requests_share_a_pass_and_each_gets_its_jobs_grid() -> None:
    services.activate(dcgan_version(1))
    requests = [{"id": "a", "version": None, "n": 4, "seed": 3},
                {"id": "b", "version": None, "n": 1, "seed": 9},
                {"id": "c", "version": None, "n": 9, "seed": 3}]
    replies = answer("dcgan", requests)
    assert [r["batch"] for r in replies] == [3, 3, 3]
    for request, reply in zip(requests, replies, strict=True):
        params = {"mode": "grid", "n": request["n"], "seed": request["seed"]}
        job = DCGANTool().run(outside_job(params))
        grid = next(f for f in job.files if f.name == "grid.png")
        got, want = pixels(base64.b64decode(reply["png"])), pixels(grid.content)
        assert got.shape == want.shape
        # A batch of another size may take other kernels: at most one level of rounding apart.
        assert np.abs(got - want).max() <= 1, request


def test_a_batch_for_two_versions_is_answered_by_each() -> None:
    gentle, bold = sentiment_version("gentle", 1.0), sentiment_version("bold", 4.0)
    services.activate(gentle)
    counted = Replies()
    replies = answer("sentiment", [{"id": "1", "version": bold.pk, "text": "good film"},
                                   {"id": "2", "version": None, "text": "good film"},
                                   {"id": "3", "version": bold.pk, "text": "good good film"}], counted)
    assert [r["model"] for r in replies] == [bold.label, gentle.label, bold.label]
    assert [r["batch"] for r in replies] == [2, 1, 2]  # one pass per version
    assert replies[0]["probability"] > replies[1]["probability"] > 0.5
    answer("sentiment", [{"id": "4", "version": None, "text": "bad"}], counted)
    rows = {row.model: row for row in stats.read(counted)}
    assert (rows[bold.label].requests, rows[bold.label].batches) == (2, 1)
    assert (rows[gentle.label].requests, rows[gentle.label].batches) == (2, 2)
    assert rows[gentle.label].seconds > 0 and rows[gentle.label].tool == "sentiment"


def test_a_failure_is_told_to_every_request_of_the_batch() -> None:
    counted = Replies()
    replies = answer("dcgan", [{"id": "a", "version": None, "n": 1, "seed": 1},
                               {"id": "b", "version": None, "n": 2, "seed": 2}], counted)
    assert [r["error"].split(".")[0] for r in replies] == ["CatalogError: No dcgan model is active"] * 2
    assert stats.read(counted) == [stats.InvokeStats("dcgan", "", errors=2)]
    gone = answer("sentiment", [{"id": "c", "version": 10**6, "text": "good"}])
    assert gone == [{"error": "DoesNotExist: ModelVersion matching query does not exist."}]


def test_fast_style_gives_the_jobs_picture() -> None:
    version = install_fast_style_starter(previews=False)
    style = version.config["styles"][0]
    photo = photo_bytes((90, 60))
    [reply] = answer("fast-style", [{"id": "p", "version": None, "photo": base64.b64encode(photo).decode(),
                                     "styles": {style: 1.0}, "max_side": 64, "preserve_colors": False}])
    job = FastStyleTool().run(outside_job({"styles": {style: 1.0}, "max_side": 64}, {"photo": photo}))
    got, want = pixels(base64.b64decode(reply["png"])), pixels(job.files[0].content)
    assert got.shape == (43, 64, 3) and np.array_equal(got, want)
    assert reply["model"] == version.label
