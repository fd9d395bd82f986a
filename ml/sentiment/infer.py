"""Use a trained sentiment model: load it (``load``), then score one text with the words that decided
it, many texts at once, or a table of texts read by ml/sentiment/data.py (a CSV batch).

Which words mattered is found by occlusion: the text is scored again with each distinct word taken
out (every occurrence), and the change in the probability of the predicted label is that word's
weight. It needs one forward pass per distinct word (all in one batch), works the same for the LSTM
and the bag of words, and needs no gradients.

A table is written back with three columns added: ``positive_probability`` (the model's probability
that the text is positive, rounded to 4 places), ``predicted`` (positive/negative) and ``error`` (why
the row has no score: an empty text, one with no words, one over ``MAX_TEXT_CHARS``, or a batch
cancelled before it; empty on a scored row); every other column is kept as it was, so ids and labels
the user had travel through. A column called ``label`` with binary values (as the training CSVs
have) is also used to report accuracy, over the scored rows. A retry of a batch matches rows by
their number: a row keeps its earlier score when it had one and its text is unchanged, and every
other row is scored.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ml.common.family import Source, as_checkpoint, config_from_dict, load_model
from ml.common.progress import NOT_RUN, NullProgress, Progress, check_cancelled
from ml.sentiment.config import SentimentConfig
from ml.sentiment.data import (
    ERROR_COLUMN,
    FIRST_ROW,
    PREDICTED_COLUMN,
    SCORE_COLUMN,
    Earlier,
    TextTable,
    Vocab,
    encode,
    encode_tokens,
    kept,
    text_problem,
    tokenize,
)
from ml.sentiment.family import FAMILY

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

    def probabilities(self, ids: torch.Tensor) -> list[float]:
        with torch.no_grad():
            return torch.sigmoid(self.model(ids.to(self.device))).tolist()


def load(source: Source, device: torch.device | str = "cpu", *, validate: bool = True) -> SentimentModel:
    """A "sentiment" studio checkpoint (dict or file) -> the model in eval mode on ``device``, with its
    vocabulary; see ml.common.family.load_model. The CPU serves one text well; a GPU pays off for
    batches (the invoke server's)."""
    checkpoint = as_checkpoint(source)
    model = load_model(FAMILY, checkpoint, nn.Module, device=device, validate=validate)
    cfg = config_from_dict(FAMILY, checkpoint["config"])
    return SentimentModel(model, cfg, Vocab.from_words(cfg.words), torch.device(device))


def predict(sm: SentimentModel, text: str, top: int = TOP_WORDS) -> Prediction:
    """The probability that ``text`` is positive, its label, and its ``top`` most decisive words."""
    tokens = list(kept(tokenize(text), sm.config.length, sm.config.keep))
    distinct = list(dict.fromkeys(tokens))
    variants = [tokens] + [[t for t in tokens if t != word] for word in distinct]
    ids, _ = encode_tokens(variants, sm.vocab, sm.config.length, sm.config.pad, sm.config.keep)
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
        ids, _ = encode(texts[start:start + chunk], sm.vocab, sm.config.length, sm.config.pad,
                        sm.config.keep)
        out.extend(sm.probabilities(ids))
        progress.update(len(out), len(texts), f"{len(out)} of {len(texts)} texts")
    return out


# --- a table of texts (a CSV batch) ----------------------------------------------------------------


@dataclass
class TableScores:
    """Each row's outcome: a probability, or the reason it has none."""

    scores: list[float | None]  # None where the row failed
    errors: list[str]  # "" where the row was scored
    kept: int = 0  # scores taken from an earlier job
    cancelled: bool = False  # stopped part way; the rows not reached say NOT_RUN

    @property
    def scored(self) -> list[int]:
        """The indices of the scored rows."""
        return [i for i, p in enumerate(self.scores) if p is not None]

    def failed(self) -> list[tuple[int, str]]:
        """(row number, reason) of each row without a score."""
        return [(i + FIRST_ROW, reason) for i, reason in enumerate(self.errors) if reason]


def score_table(sm: SentimentModel, table: TextTable, earlier: Earlier | None = None, *,
                progress: Progress | None = None, chunk: int = BATCH_CHUNK) -> TableScores:
    """Score every row that has a text to score, ``chunk`` texts per forward pass, reporting texts
    done through ``progress``. A row of ``earlier`` with the same text keeps its score and is not
    scored again. When ``progress`` asks to stop, the chunks done so far are kept, the rows not
    reached get NOT_RUN, and the result says ``cancelled`` (no exception: the caller keeps them)."""
    progress = progress or NullProgress()
    earlier = earlier or {}
    texts = table.texts
    errors = [text_problem(text) for text in texts]
    scores: list[float | None] = [None] * len(texts)
    for i, text in enumerate(texts):
        before = earlier.get(i + FIRST_ROW)
        if not errors[i] and before is not None and before[0] == text:
            scores[i] = before[1]
    kept = sum(1 for p in scores if p is not None)
    todo = [i for i, p in enumerate(scores) if p is None and not errors[i]]
    for start in range(0, len(todo), chunk):
        if progress.cancelled():
            for i in todo[start:]:
                errors[i] = NOT_RUN
            return TableScores(scores, errors, kept=kept, cancelled=True)
        part = todo[start:start + chunk]
        for i, p in zip(part, predict_many(sm, [texts[i] for i in part], chunk=chunk), strict=True):
            scores[i] = p
        done = start + len(part)
        progress.update(done, len(todo), f"{done} of {len(todo)} texts")
    return TableScores(scores, errors, kept=kept)


def accuracy(table: TextTable, result: TableScores) -> float | None:
    """The share of the scored rows whose predicted label is their ``label``; None when the scored
    rows do not all have a binary label (or there are none)."""
    rows = result.scored
    labels = table.labels(rows)
    if not rows or labels is None:
        return None
    probabilities = [p for p in result.scores if p is not None]  # in the order of ``rows``
    right = sum(1 for p, y in zip(probabilities, labels, strict=True) if (p >= 0.5) == (y == 1))
    return right / len(rows)


def scored_csv(table: TextTable, result: TableScores) -> bytes:
    """The table as UTF-8 CSV with the score, prediction and error columns added (replacing columns
    of those names); a failed row keeps its cells, with empty scores and the reason."""
    if len(result.scores) != len(table.rows) or len(result.errors) != len(table.rows):
        raise ValueError(f"{len(result.scores)} scores for {len(table.rows)} rows")
    added = (SCORE_COLUMN, PREDICTED_COLUMN, ERROR_COLUMN)
    names = [h.strip().lower() for h in table.header]
    keep = [i for i, name in enumerate(names) if name not in added or i == table.text_column]
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([table.header[i] for i in keep] + list(added))
    for row, p, error in zip(table.rows, result.scores, result.errors, strict=True):
        scored = ["", ""] if p is None else [f"{p:.4f}", "positive" if p >= 0.5 else "negative"]
        writer.writerow([row[i] for i in keep] + scored + [error])
    return out.getvalue().encode("utf-8")
