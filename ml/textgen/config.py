"""Char-RNN configuration: travels inside every checkpoint as its "config" dict, vocabulary included."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CharRNNConfig:
    # The vocabulary in index order as one string: tokens[i] is the character of one-hot index i.
    # It must travel with the weights, since the index order is arbitrary (Udacity: tuple(set(text))).
    tokens: str
    n_hidden: int = 512
    n_layers: int = 2
    dropout: float = 0.5  # between LSTM layers and before the output layer; training only

    def __post_init__(self) -> None:
        if not isinstance(self.tokens, str) or not self.tokens:
            raise ValueError("tokens must be a non-empty string (the vocabulary in index order)")
        repeated = sorted({c for c in self.tokens if self.tokens.count(c) > 1})
        if repeated:
            raise ValueError(f"tokens must not repeat characters; repeated: {', '.join(map(repr, repeated))}")
        for name in ("n_hidden", "n_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)
