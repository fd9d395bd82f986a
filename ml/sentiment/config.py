"""The sentiment family's configuration: travels inside every checkpoint as its "config" dict,
vocabulary included (ids mean nothing without it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ml.sentiment.text import FIRST_ID, PADDING_SIDES

KINDS = ("lstm", "bow")


@dataclass
class SentimentConfig:
    # The vocabulary in id order: words[i] has id i + 2 (0 = padding, 1 = out of vocabulary).
    words: list[str] = field(default_factory=list)
    kind: str = "lstm"  # "lstm": Embedding -> LSTM -> Linear; "bow": logistic regression on counts
    # lstm only (Udacity sentiment-rnn: 400, 256, 2, 0.5):
    embedding_dim: int = 400
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.5  # between LSTM layers and before the output layer; training only
    # How texts are encoded for this model: words kept per text, and the padding side used.
    length: int = 200
    pad: str = "left"

    def __post_init__(self) -> None:
        words = self.words
        if not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words):
            raise ValueError("words must be a non-empty list of strings (the vocabulary in id order)")
        if len(set(self.words)) != len(self.words):
            raise ValueError("words must not repeat")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        for name in ("embedding_dim", "hidden", "layers", "length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pad not in PADDING_SIDES:
            raise ValueError(f"pad must be 'left' or 'right', got {self.pad!r}")

    @property
    def vocab_size(self) -> int:
        """Rows of the embedding (or inputs of the bag of words): padding, OOV and the words."""
        return len(self.words) + FIRST_ID
