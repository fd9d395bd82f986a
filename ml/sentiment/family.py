"""The sentiment family for the catalog: build from the config (vocabulary inside); dry-run on a
four-word text."""

from __future__ import annotations

import torch

from ml.common.family import Family
from ml.families import register
from ml.sentiment.config import SentimentConfig
from ml.sentiment.data import FIRST_ID
from ml.sentiment.model import build_model


def example_input(cfg: SentimentConfig) -> torch.Tensor:
    """(1, 4): the first four vocabulary words in turn (repeating when there are fewer)."""
    return (FIRST_ID + torch.arange(4) % len(cfg.words)).unsqueeze(0)


FAMILY = register(Family(
    name="sentiment", config_class=SentimentConfig, build=build_model, example_input=example_input,
    description="Sentiment classifier: word LSTM (Udacity sentiment-rnn) or bag-of-words baseline",
))
