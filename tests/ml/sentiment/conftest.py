"""A bag-of-words sentiment model with hand-set weights, for the prediction and batch tests."""

from __future__ import annotations

import torch

from ml.common.checkpoint import checkpoint_dict
from ml.sentiment.config import SentimentConfig
from ml.sentiment.data import Vocab
from ml.sentiment.infer import SentimentModel, load
from ml.sentiment.model import build_model

WORDS = ["the", "film", "was", "plot", "superb", "awful"]


def bow_model(weights: dict[str, float]) -> SentimentModel:
    """A bag of words with hand-set weights: "superb" strongly positive, "awful" strongly negative."""
    cfg = SentimentConfig(words=WORDS, kind="bow", length=20)
    model = build_model(cfg)
    vocab = Vocab.from_words(WORDS)
    with torch.no_grad():
        model.linear.weight.zero_()
        model.linear.bias.zero_()
        for word, w in weights.items():
            model.linear.weight[0, vocab.id(word)] = w
    ckpt = checkpoint_dict(family="sentiment", config=cfg, state_dict=model.state_dict())
    return load(ckpt)
