"""Synchronous invoke on the real path: concurrent requests to daphne, through Redis, to a real
batching server, which scores them together; each client gets its own text's score (the same as
scoring it alone) and the batch sizes show the requests were gathered. DCGAN invokes routed to an
endpoint's two variants come back as PNG grids from the variant each was routed to."""

from __future__ import annotations

import io
import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import redis
import torch
from django.conf import settings
from django.contrib.auth import get_user_model
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from apps.api.models import ApiToken
from apps.catalog import services
from apps.catalog.models import Endpoint, Variant
from apps.serving import stats
from apps.serving.batcher import Batcher
from ml.common.checkpoint import checkpoint_dict
from ml.sentiment.config import SentimentConfig
from ml.sentiment.infer import load, predict
from ml.sentiment.model import build_model
from tests.apps.serving.tiny_models import dcgan_version, pixels

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WORDS = ["good", "bad", "film", "plot"]


def active_model() -> dict[str, Any]:
    cfg = SentimentConfig(words=WORDS, kind="bow", length=20)
    model = build_model(cfg)
    with torch.no_grad():
        model.linear.weight.zero_()
        model.linear.weight[0, 2], model.linear.weight[0, 3] = 2.0, -2.0
    ckpt = checkpoint_dict(family="sentiment", config=cfg, state_dict=model.state_dict())
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    buffer.seek(0)
    version = services.add_version("sentiment", "invoke test", buffer, "s.pt")
    services.validate_version(version)
    services.activate(version)
    return ckpt


def serving() -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    batcher = Batcher(max_batch=64, window_ms=20)
    server = threading.Thread(target=batcher.serve, kwargs={"stop": stop.is_set}, daemon=True)
    server.start()
    return server, stop


def test_concurrent_invokes_are_batched_and_each_gets_its_own_score(stack: Any) -> None:
    reference = load(active_model())
    token = ApiToken.issue(get_user_model().objects.create_user("invoker"), "t")[1]
    redis.Redis.from_url(settings.REDIS_URL).delete(stats.STATS_KEY)
    server, stop = serving()
    texts = [" ".join(["good"] * (i % 4) + ["bad"] * (i % 3) + ["film"]) for i in range(48)]

    def call(text: str) -> dict[str, Any]:
        req = urllib.request.Request(f"{stack.base_url}/api/tools/sentiment/invoke",
                                     data=json.dumps({"text": text}).encode(),
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as response:
            return json.loads(response.read())

    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(call, texts))
    finally:
        stop.set()
        server.join(5)
    for text, answer in zip(texts, answers, strict=True):
        assert answer["probability"] == pytest.approx(predict(reference, text).probability, abs=1e-6), text
        assert answer["model"].startswith("sentiment/v")
    assert max(a["batch"] for a in answers) > 1  # gathered, not one forward per request
    # /metrics counts them: 48 requests in fewer passes.
    text = urllib.request.urlopen(f"{stack.base_url}/metrics", timeout=30).read().decode()
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for family in text_string_to_metric_families(text) for s in family.samples}
    labels = (("model", answers[0]["model"]), ("tool", "sentiment"))
    assert got[("studio_invoke_requests_total", labels)] == 48
    assert got[("studio_invoke_passes_total", labels)] < 48
    assert got[("studio_invoke_queue_depth", (("tool", "sentiment"),))] == 0


def test_dcgan_invokes_follow_the_endpoints_variants(stack: Any) -> None:
    first, second = dcgan_version(1), dcgan_version(2)
    services.activate(first)
    endpoint = Endpoint.objects.create(family="dcgan", sticky=False)
    Variant.objects.create(endpoint=endpoint, name="A", version=first, weight=50)
    Variant.objects.create(endpoint=endpoint, name="B", version=second, weight=50)
    token = ApiToken.issue(get_user_model().objects.create_user("painter"), "t")[1]
    server, stop = serving()

    def call(seed: int) -> tuple[dict[str, str], bytes]:
        req = urllib.request.Request(f"{stack.base_url}/api/tools/dcgan/invoke",
                                     data=json.dumps({"n": 4, "seed": seed}).encode(),
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as response:
            return dict(response.headers), response.read()

    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(call, [5] * 40))
    finally:
        stop.set()
        server.join(5)
    by_variant: dict[str, list[np.ndarray]] = {"A": [], "B": []}
    for headers, png in answers:
        assert headers["Content-Type"] == "image/png" and Image.open(io.BytesIO(png)).size == (70, 70)
        expected = {"A": first.label, "B": second.label}[headers["X-Studio-Variant"]]
        assert headers["X-Studio-Model"] == expected
        by_variant[headers["X-Studio-Variant"]].append(pixels(png))
    # The same seed: one picture per variant (batches of other sizes may round a level apart), and
    # the two variants' pictures differ.
    assert by_variant["A"] and by_variant["B"]
    for pictures in by_variant.values():
        assert all(np.abs(p - pictures[0]).max() <= 1 for p in pictures)
    assert np.abs(by_variant["A"][0] - by_variant["B"][0]).max() > 10
    assert max(int(headers["X-Studio-Batch"]) for headers, _ in answers) > 1
