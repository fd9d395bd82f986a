"""Labelled texts for training: a CSV uploaded by a user, or the IMDB reviews folder (aclImdb).

The CSV has a header row naming a ``text`` and a ``label`` column (others are ignored), or no header
and two columns ``label,text`` as in Pang & Lee's polarity files (``"1","..."`` / ``"-1","..."``,
often with a UTF-8 byte-order mark). Labels: 1/0, 1/-1, pos/neg or positive/negative (any case).
Every refusal is a ``SentimentDataError`` whose message a user can act on.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import torch

MAX_ROWS = 50_000
MAX_BYTES = 10_000_000
LABELS = {"1": 1, "0": 0, "-1": 0, "pos": 1, "neg": 0, "positive": 1, "negative": 0}
_LABEL_HELP = "use 0/1, -1/1, pos/neg or positive/negative"


class SentimentDataError(ValueError):
    """The texts cannot be used; the message says why, fit to show a user."""


@dataclass
class LabelledTexts:
    texts: list[str]
    labels: list[int]  # 1 positive, 0 negative

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: list[int]) -> LabelledTexts:
        return LabelledTexts([self.texts[i] for i in index], [self.labels[i] for i in index])


def read_csv(source: bytes | str | os.PathLike[str], *, max_rows: int = MAX_ROWS,
             max_bytes: int = MAX_BYTES) -> LabelledTexts:
    """Parse a labelled CSV from its bytes or a path (see the module's docstring for the layout)."""
    rows = csv_rows(source, max_bytes)
    header = [cell.strip().lower() for cell in rows[0]]
    if "text" in header or "label" in header:
        missing = [name for name in ("text", "label") if name not in header]
        if missing:
            raise SentimentDataError(f"missing column: {', '.join(missing)} (the header row needs "
                                     "'text' and 'label')")
        text_col, label_col, first = header.index("text"), header.index("label"), 1
    elif len(rows[0]) == 2 and rows[0][0].strip().lower() in LABELS:
        label_col, text_col, first = 0, 1, 0  # Pang & Lee: "1"|"-1","text", no header
    else:
        raise SentimentDataError("missing columns: the first row must be a header naming 'text' and "
                                 "'label' columns (or every row 'label,text' with labels 1/-1)")
    count = len(rows) - first
    if count == 0:
        raise SentimentDataError("the file has a header but no rows")
    if count > max_rows:
        raise SentimentDataError(f"too many rows: {count:,} (the limit is {max_rows:,})")
    texts, labels = [], []
    for number, row in enumerate(rows[first:], start=first + 1):
        label = row[label_col].strip() if label_col < len(row) else ""
        body = row[text_col].strip() if text_col < len(row) else ""
        if not label:
            raise SentimentDataError(f"row {number}: the label is missing")
        if label.lower() not in LABELS:
            raise SentimentDataError(f"row {number}: label {label[:40]!r} is not binary ({_LABEL_HELP})")
        if not body:
            raise SentimentDataError(f"row {number}: the text is empty")
        texts.append(body)
        labels.append(LABELS[label.lower()])
    return LabelledTexts(texts, labels)


def csv_rows(source: bytes | str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> list[list[str]]:
    """The non-blank rows of a UTF-8 CSV (a byte-order mark is dropped); SentimentDataError when the
    file is too large, not UTF-8, empty or not CSV."""
    data = _read_bytes(source, max_bytes)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise SentimentDataError(f"the file is not UTF-8 text: invalid bytes on line {line} "
                                 "(save it as UTF-8 CSV)") from None
    if not text.strip():
        raise SentimentDataError("the file is empty: no texts in it")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise SentimentDataError(f"not a readable CSV file: {exc}") from None
    return [r for r in rows if any(cell.strip() for cell in r)]  # blank lines are no rows


def _read_bytes(source: bytes | str | os.PathLike[str], max_bytes: int) -> bytes:
    if isinstance(source, bytes):
        size, data = len(source), source
    else:
        try:
            size = os.path.getsize(source)
            data = b"" if size > max_bytes else Path(source).read_bytes()
        except OSError as exc:
            raise SentimentDataError(f"cannot read {Path(source).name}: {exc.strerror or exc}") from None
    if size > max_bytes:
        raise SentimentDataError(f"the file is too large: {size:,} bytes (the limit is {max_bytes:,})")
    return data


@dataclass
class Split:
    train: LabelledTexts
    validation: LabelledTexts
    test: LabelledTexts


def split(data: LabelledTexts, seed: int, validation: float = 0.1, test: float = 0.1) -> Split:
    """Stratified by label, so both labels reach every part (and the test figures exist): each
    label's texts are shuffled by ``seed``, the first ``test`` fraction goes to the test set, the
    next ``validation`` fraction to the validation set, the rest to training; each part keeps the
    file's order. The same data and seed always give the same split. A label with three or more
    texts gives at least one to each of validation and test."""
    gen = torch.Generator().manual_seed(seed)
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for label in sorted(set(data.labels)):
        index = [i for i, y in enumerate(data.labels) if y == label]
        order = [index[j] for j in torch.randperm(len(index), generator=gen).tolist()]
        n = len(order)
        n_test = max(1, round(n * test)) if n >= 3 else 0
        n_val = max(1, round(n * validation)) if n >= 3 else 0
        parts[2].extend(order[:n_test])
        parts[1].extend(order[n_test:n_test + n_val])
        parts[0].extend(order[n_test + n_val:])
    train_idx, val_idx, test_idx = (sorted(p) for p in parts)
    return Split(train=data.subset(train_idx), validation=data.subset(val_idx), test=data.subset(test_idx))


def read_imdb(folder: str | os.PathLike[str], part: str = "train", max_per_class: int | None = None
              ) -> LabelledTexts:
    """Reviews of the Large Movie Review Dataset (Maas et al. 2011) as unpacked from aclImdb_v1.tar.gz:
    ``folder/{train,test}/{pos,neg}/*.txt``. Files in name order, so reads repeat exactly."""
    root = Path(folder)
    texts, labels = [], []
    for name, label in (("pos", 1), ("neg", 0)):
        directory = root / part / name
        if not directory.is_dir():
            raise SentimentDataError(f"not an aclImdb folder: {part}/{name} is missing in {root}")
        files = sorted(directory.glob("*.txt"))[:max_per_class]
        for file in files:
            # IMDB reviews carry HTML line breaks; they would become a word "br" otherwise.
            texts.append(file.read_text(encoding="utf-8", errors="replace").replace("<br />", " "))
            labels.append(label)
    if not texts:
        raise SentimentDataError(f"no reviews in {root / part}")
    return LabelledTexts(texts, labels)
