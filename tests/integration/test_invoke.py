"""Synchronous invoke on the real path: concurrent requests to daphne, through Redis, to a real
batching server, which scores them together; each client gets its own text's score (the same as
scoring it alone) and the batch sizes show the requests were gathered."""

from __future__ import annotations

import io
import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import torch
from django.contrib.auth import get_user_model

from apps.api.models import ApiToken
from apps.catalog import services
from apps.serving.batcher import Batcher
from ml.common.checkpoint import checkpoint_dict
from ml.sentiment.config import SentimentConfig
from ml.sentiment.model import build_model
from ml.sentiment.predict import SentimentModel, predict

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


def test_concurrent_invokes_are_batched_and_each_gets_its_own_score(stack: Any) -> None:
    reference = SentimentModel.from_checkpoint(active_model())
    token = ApiToken.issue(get_user_model().objects.create_user("invoker"), "t")[1]
    stop = threading.Event()
    batcher = Batcher(max_batch=64, window_ms=20)
    server = threading.Thread(target=batcher.serve, kwargs={"stop": stop.is_set}, daemon=True)
    server.start()
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
