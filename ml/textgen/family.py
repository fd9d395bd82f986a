"""The char-RNN family for the catalog: build from the config; dry-run on four one-hot characters."""

from __future__ import annotations

import torch

from ml.common.family import Family
from ml.families import register
from ml.textgen.config import CharRNNConfig
from ml.textgen.model import CharRNN


def example_input(cfg: CharRNNConfig) -> torch.Tensor:
    """(1, 4, V): the first four vocabulary entries in turn (fewer if the vocabulary is smaller)."""
    v = len(cfg.tokens)
    x = torch.zeros(1, 4, v)
    x[0, torch.arange(4), torch.arange(4) % v] = 1.0
    return x


FAMILY = register(Family(
    name="textgen", config_class=CharRNNConfig, build=CharRNN, example_input=example_input,
    importer="ml.textgen.formats:import_char_rnn",
    description="Character-level LSTM text generator (Udacity char-RNN layout)",
))
