"""Words to ids, the way Udacity's sentiment-rnn prepares reviews.

Tokenisation: lowercase, delete every ASCII punctuation character (``string.punctuation``; so
"don't" becomes "dont" and "well-made" becomes "wellmade"), then split on whitespace. Nothing else
(no stemming, no stop words): the model learns what matters.

Ids: 0 is padding, 1 is any word outside the vocabulary, and the vocabulary's words get 2, 3, ...
in order of falling frequency (ties by the word, so the same texts always give the same ids). The
vocabulary is kept as a plain list of words (``Vocab.words``), which is what travels in a
``weights_only`` checkpoint's config.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch

PAD, OOV = 0, 1
FIRST_ID = 2  # the most frequent word's id
PADDING_SIDES = ("left", "right")
_DROP_PUNCTUATION = str.maketrans("", "", string.punctuation)


def tokenize(text: str) -> list[str]:
    """Lowercase, strip punctuation, split on whitespace (see the module's docstring)."""
    return text.lower().translate(_DROP_PUNCTUATION).split()


@dataclass(frozen=True)
class Vocab:
    words: tuple[str, ...]  # words[i] has id i + FIRST_ID
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen (a vocabulary never changes under a model), so the index is set past the guard.
        object.__setattr__(self, "_index", {w: i + FIRST_ID for i, w in enumerate(self.words)})
        if len(self._index) != len(self.words):
            raise ValueError("vocabulary words must not repeat")

    @classmethod
    def build(cls, texts: Iterable[str], max_size: int | None = None, min_count: int = 1) -> Vocab:
        """The ``max_size`` most frequent words of ``texts`` seen at least ``min_count`` times."""
        counts = Counter(w for text in texts for w in tokenize(text))
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(tuple(ranked[:max_size] if max_size is not None else ranked))

    @classmethod
    def from_words(cls, words: Sequence[str]) -> Vocab:
        """Restore from ``list(vocab.words)`` (e.g. a checkpoint's config)."""
        return cls(tuple(words))

    @property
    def size(self) -> int:
        """Ids in use, padding and out-of-vocabulary included: the embedding's row count."""
        return len(self.words) + FIRST_ID

    def id(self, word: str) -> int:
        return self._index.get(word, OOV)

    def ids(self, tokens: Iterable[str]) -> list[int]:
        return [self._index.get(w, OOV) for w in tokens]


def encode(texts: Sequence[str], vocab: Vocab, length: int, pad: str = "left"
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Texts -> (ids (N, length) int64, lengths (N,) int64). A text longer than ``length`` words
    keeps its first ``length`` (as Udacity truncates); a shorter one is padded with 0 on the ``pad``
    side. A text with no words has length 0 and is all padding."""
    return encode_tokens([tokenize(t) for t in texts], vocab, length, pad)


def encode_tokens(token_lists: Sequence[Sequence[str]], vocab: Vocab, length: int, pad: str = "left"
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``encode`` for texts already tokenised."""
    if pad not in PADDING_SIDES:
        raise ValueError(f"pad must be 'left' or 'right', got {pad!r}")
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    ids = torch.full((len(token_lists), length), PAD, dtype=torch.long)
    lengths = torch.zeros(len(token_lists), dtype=torch.long)
    for row, tokens in enumerate(token_lists):
        seq = vocab.ids(tokens[:length])
        lengths[row] = len(seq)
        if seq:
            if pad == "left":
                ids[row, length - len(seq):] = torch.tensor(seq)
            else:
                ids[row, :len(seq)] = torch.tensor(seq)
    return ids, lengths
