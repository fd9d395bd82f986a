"""Use a trained sentiment model: one text with the words that decided it, or many texts at once.

Which words mattered is found by occlusion: the text is scored again with each distinct word taken
out (every occurrence), and the change in the probability of the predicted label is that word's
weight. It needs one forward pass per distinct word (all in one batch), works the same for the LSTM
and the bag of words, and needs no gradients.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ml.common.family import build_from_checkpoint, config_from_dict
from ml.common.progress import NullProgress, Progress, check_cancelled
from ml.sentiment.config import SentimentConfig
from ml.sentiment.text import Vocab, encode, encode_tokens, tokenize

BATCH_CHUNK = 256  # texts per forward pass in predict_many
TOP_WORDS = 5


@dataclass
class Prediction:
    probability: float  # that the text is positive
    label: str  # "positive" or "negative" (probability >= 0.5)
    # The words that pushed most towards the label, strongest first, with how much the probability
    # of that label drops without them; words that pushed against it have negative values.
    words: list[tuple[str, float]]


@dataclass
class SentimentModel:
    model: nn.Module
    config: SentimentConfig
    vocab: Vocab
    device: torch.device = torch.device("cpu")

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any],
                        device: torch.device | str = "cpu") -> SentimentModel:
        """From a checkpoint that passed ``ml.common.family.validate``, in eval mode on ``device``.
        The CPU serves one text well; a GPU pays off for batches (the invoke server's)."""
        from ml.sentiment.family import FAMILY

        cfg = config_from_dict(FAMILY, checkpoint["config"])
        device = torch.device(device)
        model = build_from_checkpoint(FAMILY, checkpoint).to(device)
        return cls(model, cfg, Vocab.from_words(cfg.words), device)

    def probabilities(self, ids: torch.Tensor) -> list[float]:
        with torch.no_grad():
            return torch.sigmoid(self.model(ids.to(self.device))).tolist()


def predict(sm: SentimentModel, text: str, top: int = TOP_WORDS) -> Prediction:
    """The probability that ``text`` is positive, its label, and its ``top`` most decisive words."""
    tokens = tokenize(text)[:sm.config.length]
    distinct = list(dict.fromkeys(tokens))
    variants = [tokens] + [[t for t in tokens if t != word] for word in distinct]
    ids, _ = encode_tokens(variants, sm.vocab, sm.config.length, sm.config.pad)
    probs = sm.probabilities(ids)
    p = probs[0]
    positive = p >= 0.5
    # Drop of the predicted label's probability without the word: > 0 the word supported the label.
    effects = [(word, (p - q) if positive else (q - p)) for word, q in zip(distinct, probs[1:], strict=True)]
    effects.sort(key=lambda e: -e[1])
    return Prediction(probability=p, label="positive" if positive else "negative", words=effects[:top])


def segments(text: str, weights: dict[str, float]) -> list[tuple[str, float | None]]:
    """``text`` cut into pieces that join back to it exactly, each word with its weight (from
    ``Prediction.words``) or None; spaces and words without a weight get None. Words are matched the
    way ``tokenize`` makes them (lowercase, no punctuation), so "Great!" carries "great"'s weight."""
    pieces = []
    for piece in re.split(r"(\s+)", text):
        if piece:
            token = "".join(tokenize(piece))  # a piece has no whitespace: at most one token
            pieces.append((piece, weights.get(token) if token else None))
    return pieces


def predict_many(sm: SentimentModel, texts: Sequence[str], progress: Progress | None = None,
                 chunk: int = BATCH_CHUNK) -> list[float]:
    """The probability that each text is positive, ``chunk`` texts per forward pass; reports
    texts done through ``progress`` and stops (Cancelled) between chunks when asked."""
    progress = progress or NullProgress()
    out: list[float] = []
    for start in range(0, len(texts), chunk):
        check_cancelled(progress)
        ids, _ = encode(texts[start:start + chunk], sm.vocab, sm.config.length, sm.config.pad)
        out.extend(sm.probabilities(ids))
        progress.update(len(out), len(texts), f"{len(out)} of {len(texts)} texts")
    return out


def main(argv: list[str] | None = None) -> int:
    """python -m ml.sentiment.predict MODEL.pt "some text" ["another" ...]: each text's label,
    probability and most decisive words."""
    import argparse
    import sys

    from ml.common.checkpoint import CheckpointError, load_checkpoint
    from ml.common.family import validate
    from ml.sentiment.family import FAMILY

    p = argparse.ArgumentParser(prog="python -m ml.sentiment.predict", description=main.__doc__)
    p.add_argument("model", help="a sentiment studio checkpoint")
    p.add_argument("texts", nargs="+")
    args = p.parse_args(argv)
    try:
        ckpt = load_checkpoint(args.model)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = validate(FAMILY, ckpt)
    if not report.ok:
        print(f"error: not a usable sentiment model: {'; '.join(report.errors)}", file=sys.stderr)
        return 1
    sm = SentimentModel.from_checkpoint(ckpt)
    for text in args.texts:
        result = predict(sm, text)
        words = ", ".join(f"{w} {d:+.3f}" for w, d in result.words)
        print(f"{result.label} ({result.probability:.3f}): {text[:60]!r}  [{words}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
