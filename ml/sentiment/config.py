"""The sentiment model's configuration (``SentimentConfig``: travels inside every checkpoint as its
"config" dict, vocabulary included: ids mean nothing without it), and the training settings
(``TrainConfig``: travel in the training checkpoint and the result's ``extra["train_config"]``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ml.common.training import check_counts
from ml.sentiment.data import FIRST_ID, KEEP_SIDES, PADDING_SIDES, Vocab

KINDS = ("lstm", "bow")
# What the LSTM's output layer reads: its last real step (Udacity), or the mean or maximum of every
# step's output. On ~1,350 long reviews the last step alone stayed at chance: one state has to carry
# a 200-step-old verdict; the mean hands every step's evidence to the output directly.
# "meanmax": both, side by side (what the windowed starter reads).
POOLS = ("last", "mean", "max", "meanmax")
# --dry-run: a few texts, a tiny model and two steps per epoch: every part of the loop, in seconds.
DRY_RUN_ROWS, DRY_RUN_BATCH, DRY_RUN_STEPS = 40, 4, 2


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
    keep: str = "first"  # of a longer text, its first or last ``length`` words (data.KEEP_SIDES)
    pool: str = "last"  # lstm only: see POOLS (the defaults are what checkpoints without them used)
    bidirectional: bool = False  # lstm only: a second LSTM reads each text (or window) backwards
    # lstm only: 0 reads the kept words in one pass; more reads them in windows of this many words,
    # every half window, and a text's probability is the mean of its windows' (see model.py).
    window: int = 0
    embedding_dropout: float = 0.0  # lstm only: dropout on the word vectors; training only

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
        for name in ("dropout", "embedding_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 0:
            raise ValueError(f"window must be 0 (no windows) or a number of words, got {self.window!r}")
        if self.pad not in PADDING_SIDES:
            raise ValueError(f"pad must be 'left' or 'right', got {self.pad!r}")
        _check_keep_pool(self.keep, self.pool)

    @property
    def vocab_size(self) -> int:
        """Rows of the embedding (or inputs of the bag of words): padding, OOV and the words."""
        return len(self.words) + FIRST_ID


@dataclass
class TrainConfig:
    kind: str = "lstm"  # "lstm" or "bow"
    epochs: int = 4
    batch_size: int = 50
    lr: float = 1e-3
    clip: float = 5.0  # gradient norm limit (the LSTM's gradients can explode)
    patience: int = 2  # epochs without a better validation loss before stopping; 0: never stop early
    seed: int = 0  # the split, the initial weights, the shuffles and dropout
    max_words: int = 20_000  # vocabulary size (the most frequent training words)
    length: int = 200  # words kept per text
    pad: str = "left"
    keep: str = "first"  # see SentimentConfig
    pool: str = "last"
    bidirectional: bool = False
    window: int = 0
    embedding_dropout: float = 0.0
    # Start the embedding from pre-trained word vectors (ml/common/word_vectors.py; the trainer is
    # given them): embedding_dim must be their width.
    word_vectors: bool = False
    embedding_dim: int = 400
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.5
    validation: float = 0.1  # fractions of the texts held out
    test: float = 0.1
    # 0: the test set is a random ``test`` share; N: every Nth text in file order instead (0, N, 2N,
    # ...), the same reviews whatever the seed: the starters' 150 held-out reviews (issue 16).
    test_every: int = 0
    report_every: int = 10  # steps per train loss/accuracy report (averaged over those steps)
    checkpoint_every: int = 500  # steps per training checkpoint; 0: only at the end and on cancel
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.pad not in PADDING_SIDES:
            raise ValueError(f"pad must be 'left' or 'right', got {self.pad!r}")
        _check_keep_pool(self.keep, self.pool)
        check_counts(self, at_least_one=("epochs", "batch_size", "max_words", "length", "embedding_dim",
                                         "hidden", "layers", "report_every"),
                     zero_or_more=("patience", "checkpoint_every", "test_every"))
        if not self.lr > 0 or not self.clip > 0:
            raise ValueError("lr and clip must be positive")
        for name in ("dropout", "embedding_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not self.window >= 0:
            raise ValueError(f"window must be 0 (no windows) or a number of words, got {self.window}")
        if self.test_every == 1:
            raise ValueError("test_every 1 would make every text a test text: use 0 or 2 and more")
        if self.word_vectors and self.kind != "lstm":
            raise ValueError("word vectors start an LSTM's embedding: the bag of words has none")
        if not (0 < self.validation < 0.5 and 0 < self.test < 0.5):
            raise ValueError("validation and test must be fractions between 0 and 0.5")

    def model_config(self, vocab: Vocab) -> SentimentConfig:
        if self.dry_run:  # tiny: the dry run checks the plumbing, not the model
            return SentimentConfig(words=list(vocab.words), kind=self.kind, embedding_dim=8, hidden=8,
                                   layers=1, dropout=self.dropout, length=min(self.length, 50), pad=self.pad,
                                   keep=self.keep, pool=self.pool, bidirectional=self.bidirectional,
                                   window=min(self.window, 10), embedding_dropout=self.embedding_dropout)
        return SentimentConfig(words=list(vocab.words), kind=self.kind, embedding_dim=self.embedding_dim,
                               hidden=self.hidden, layers=self.layers, dropout=self.dropout,
                               length=self.length, pad=self.pad, keep=self.keep, pool=self.pool,
                               bidirectional=self.bidirectional, window=self.window,
                               embedding_dropout=self.embedding_dropout)


def _check_keep_pool(keep: str, pool: str) -> None:
    if keep not in KEEP_SIDES:
        raise ValueError(f"keep must be 'first' or 'last', got {keep!r}")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
