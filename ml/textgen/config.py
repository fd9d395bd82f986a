"""The char-RNN's configuration (``CharRNNConfig``: travels inside every checkpoint as its "config"
dict, vocabulary included), and the training settings (``TrainConfig``: travel in the training
checkpoint and the result's ``extra["train_config"]``)."""

from __future__ import annotations

from dataclasses import dataclass

from ml.common.training import check_counts

# --dry-run: a tiny net on the text's start, two steps per epoch: every part of the loop, in seconds.
DRY_RUN_CHARS, DRY_RUN_HIDDEN, DRY_RUN_BATCH, DRY_RUN_SEQ, DRY_RUN_STEPS, DRY_RUN_SAMPLE = (
    4000, 32, 4, 20, 2, 40)


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


@dataclass
class TrainConfig:
    n_hidden: int = 512
    n_layers: int = 2
    dropout: float = 0.5
    epochs: int = 20
    batch_size: int = 128  # rows read side by side (lowered when the text is too short)
    seq_length: int = 100  # characters per row per step (the truncated back-propagation span)
    lr: float = 1e-3
    # The learning rate at the last step, as a fraction of ``lr``: it falls linearly from ``lr`` over
    # the run's steps (a resume with more epochs stretches what is left of the fall). 1: constant
    # (Udacity's). A short run can start high and still settle: see the quick starter's figures.
    lr_final: float = 1.0
    clip: float = 5.0  # gradient norm limit: LSTMs' gradients explode now and then
    val_fraction: float = 0.1
    seed: int = 0
    report_every: int = 10  # steps per metrics report (averaged) and history point
    sample_length: int = 200  # characters of the sample written after each epoch; 0: none
    sample_prime: str = "The "  # falls back to the text's first character if it has other characters
    temperature: float = 0.8
    top_k: int = 5
    checkpoint_every: int = 500  # steps per training checkpoint; 0: only at the end and on cancel
    dry_run: bool = False

    def __post_init__(self) -> None:
        check_counts(self, at_least_one=("n_hidden", "n_layers", "epochs", "batch_size", "seq_length",
                                         "report_every", "top_k"),
                     zero_or_more=("sample_length", "checkpoint_every"))
        if not self.lr > 0 or not self.clip > 0 or not self.temperature > 0:
            raise ValueError("lr, clip and temperature must be positive")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.lr_final <= 1.0:
            raise ValueError(f"lr_final must be in [0, 1], got {self.lr_final}")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), got {self.val_fraction}")
