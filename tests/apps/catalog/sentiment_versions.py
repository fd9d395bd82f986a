"""Small, valid bag-of-words sentiment versions for the endpoint and guardrail tests."""

from __future__ import annotations

import io

import torch

from apps.catalog import services
from apps.catalog.models import ModelVersion
from ml.common.checkpoint import checkpoint_dict
from ml.sentiment.config import SentimentConfig
from ml.sentiment.model import build_model

WORDS = ["good", "bad", "film"]


def sentiment_version(name: str, good: float) -> ModelVersion:
    """A valid bag-of-words version whose weight on "good" is ``good`` ("bad" gets the opposite)."""
    cfg = SentimentConfig(words=WORDS, kind="bow", length=20)
    model = build_model(cfg)
    with torch.no_grad():
        model.linear.weight.zero_()
        model.linear.bias.zero_()
        model.linear.weight[0, 2], model.linear.weight[0, 3] = good, -good
    buffer = io.BytesIO()
    torch.save(checkpoint_dict(family="sentiment", config=cfg, state_dict=model.state_dict()), buffer)
    buffer.seek(0)
    version = services.add_version("sentiment", name, buffer, f"{name}.pt")
    services.validate_version(version)
    version.refresh_from_db()
    assert version.validation == ModelVersion.Validation.VALID, version.validation_errors
    return version
