"""Sentiment data: labelled texts for training, the words-to-ids encoding every model reads, and the
tables of texts a batch job scores.

Labelled texts: a CSV uploaded by a user, or the IMDB reviews folder (aclImdb). The CSV has a header
row naming a ``text`` and a ``label`` column (others are ignored), or no header and two columns
``label,text`` as in Pang & Lee's polarity files (``"1","..."`` / ``"-1","..."``, often with a UTF-8
byte-order mark). Labels: 1/0, 1/-1, pos/neg or positive/negative (any case). Every refusal is a
``SentimentDataError`` whose message a user can act on.

Words to ids, the way Udacity's sentiment-rnn prepares reviews. Tokenisation: lowercase, delete every
ASCII punctuation character (``string.punctuation``; so "don't" becomes "dont" and "well-made"
becomes "wellmade"), then split on whitespace. Nothing else (no stemming, no stop words): the model
learns what matters. Ids: 0 is padding, 1 is any word outside the vocabulary, and the vocabulary's
words get 2, 3, ... in order of falling frequency (ties by the word, so the same texts always give
the same ids). The vocabulary is kept as a plain list of words (``Vocab.words``), which is what
travels in a ``weights_only`` checkpoint's config.

Tables to score (``read_texts``): a CSV with a header row; the texts are in the column named ``text``
(or another column the caller names). Rows are numbered as a spreadsheet shows them: the header is
row 1, the first text row 2 (blank lines are not rows). ml/sentiment/infer.py scores them and writes
the table back (``score_table``, ``scored_csv``).
"""

from __future__ import annotations

import csv
import io
import os
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# torch is imported in the two functions that make tensors: the web process reads texts and limits
# from here (the sentiment forms) without loading torch.

MAX_ROWS = 50_000
MAX_BYTES = 10_000_000
MAX_TEXT_CHARS = 20_000  # a long review is ~2,000; more is not a review
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
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines)
    rows: list[list[str]] = []
    last_start = ended = 0  # the lines the last row began and ended on
    try:
        for row in reader:
            rows.append(row)
            last_start, ended = ended + 1, reader.line_num
    except csv.Error as exc:
        raise SentimentDataError(f"not a readable CSV file: {exc}") from None
    # An unclosed quote does not fail Python's csv: it reads every later line into one text, and the
    # file then looked like "only 1 texts". Say where the quote is instead.
    if ended > last_start and _quote_left_open(lines[last_start - 1:]):
        raise SentimentDataError(f"a quote opened on line {last_start} is never closed, so lines "
                                 f"{last_start} to {ended} would be read as one text: close it (a quote "
                                 'inside a quoted text is written twice, "")')
    return [r for r in rows if any(cell.strip() for cell in r)]  # blank lines are no rows


def _quote_left_open(lines: list[str]) -> bool:
    try:
        list(csv.reader(lines, strict=True))
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


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


def split(data: LabelledTexts, seed: int, validation: float = 0.1, test: float = 0.1, test_every: int = 0
          ) -> Split:
    """Stratified by label, so both labels reach every part (and the test figures exist): each
    label's texts are shuffled by ``seed``, the first ``test`` fraction goes to the test set, the
    next ``validation`` fraction to the validation set, the rest to training; each part keeps the
    file's order. ``test_every`` N instead makes every Nth text in file order (0, N, 2N, ...) the
    test set, the same whatever the seed. The same data and seed always give the same split. A
    label with three or more texts gives at least one to each of validation and test."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for label in sorted(set(data.labels)):
        index = [i for i, y in enumerate(data.labels) if y == label]
        n = len(index)
        if test_every:
            parts[2].extend(i for i in index if i % test_every == 0)
            index = [i for i in index if i % test_every]
        order = [index[j] for j in torch.randperm(len(index), generator=gen).tolist()]
        n_test = 0 if test_every else max(1, round(n * test)) if n >= 3 else 0
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


# --- words to ids ------------------------------------------------------------------------------------

PAD, OOV = 0, 1
FIRST_ID = 2  # the most frequent word's id
PADDING_SIDES = ("left", "right")
# Which words of a text longer than the model's length it reads: Udacity keeps the first; a review's
# verdict is mostly in its last sentences, so the LSTM starter keeps the last.
KEEP_SIDES = ("first", "last")
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


def kept(tokens: Sequence[str], length: int, keep: str = "first") -> Sequence[str]:
    """The ``length`` tokens a model reads: the first ones, or the last (``keep="last"``)."""
    if keep not in KEEP_SIDES:
        raise ValueError(f"keep must be 'first' or 'last', got {keep!r}")
    return tokens[-length:] if keep == "last" else tokens[:length]


def encode(texts: Sequence[str], vocab: Vocab, length: int, pad: str = "left", keep: str = "first"
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Texts -> (ids (N, length) int64, lengths (N,) int64). A text longer than ``length`` words
    keeps its first ``length`` (as Udacity truncates) or, with ``keep="last"``, its last; a shorter
    one is padded with 0 on the ``pad`` side. A text with no words has length 0 and is all padding."""
    return encode_tokens([tokenize(t) for t in texts], vocab, length, pad, keep)


def encode_tokens(token_lists: Sequence[Sequence[str]], vocab: Vocab, length: int, pad: str = "left",
                  keep: str = "first") -> tuple[torch.Tensor, torch.Tensor]:
    """``encode`` for texts already tokenised."""
    if pad not in PADDING_SIDES:
        raise ValueError(f"pad must be 'left' or 'right', got {pad!r}")
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    import torch

    ids = torch.full((len(token_lists), length), PAD, dtype=torch.long)
    lengths = torch.zeros(len(token_lists), dtype=torch.long)
    for row, tokens in enumerate(token_lists):
        seq = vocab.ids(kept(tokens, length, keep))
        lengths[row] = len(seq)
        if seq:
            if pad == "left":
                ids[row, length - len(seq):] = torch.tensor(seq)
            else:
                ids[row, :len(seq)] = torch.tensor(seq)
    return ids, lengths


# --- tables of texts to score --------------------------------------------------------------------------

SCORE_COLUMN, PREDICTED_COLUMN, ERROR_COLUMN = "positive_probability", "predicted", "error"
FIRST_ROW = 2  # the first text's row number (the header is row 1)

# Earlier scores (a retry's): row number -> (the text as it was, its probability).
Earlier = Mapping[int, tuple[str, float]]


@dataclass
class TextTable:
    header: list[str]
    rows: list[list[str]]  # as read, each padded to the header's width
    text_column: int

    @property
    def texts(self) -> list[str]:
        return [row[self.text_column] for row in self.rows]

    def labels(self, rows: Sequence[int] | None = None) -> list[int] | None:
        """The binary labels of ``rows`` (indices; all rows by default) when the file has a
        ``label`` column and each of them has one; else None."""
        names = [h.strip().lower() for h in self.header]
        if "label" not in names:
            return None
        col = names.index("label")
        picked = range(len(self.rows)) if rows is None else rows
        values = [self.rows[i][col].strip().lower() for i in picked]
        if not all(v in LABELS for v in values):
            return None
        return [LABELS[v] for v in values]


def text_problem(text: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Why ``text`` cannot be scored, or "" when it can."""
    if not text.strip():
        return "empty text"
    if len(text) > max_chars:
        return f"too long: {len(text):,} characters (the limit is {max_chars:,})"
    if not tokenize(text):
        return "no words (only spaces or punctuation)"
    return ""


def read_texts(source: bytes | str | os.PathLike[str], column: str = "text", *, max_rows: int = MAX_ROWS,
               max_bytes: int = MAX_BYTES) -> TextTable:
    """The CSV's rows with the texts in ``column`` (matched without case); SentimentDataError says
    what is wrong with the file: no such column (naming the ones there are), no rows, too many, or
    no row with a text to score (single rows that cannot be scored are left to ``score_table``)."""
    rows = csv_rows(source, max_bytes)
    header = rows[0]
    names = [h.strip().lower() for h in header]
    if column.strip().lower() not in names:
        found = ", ".join(repr(h) for h in header[:10]) or "none"
        raise SentimentDataError(f"no {column!r} column: the first row must be a header naming the column "
                                 f"with the texts (found {found})")
    col = names.index(column.strip().lower())
    body = rows[1:]
    if not body:
        raise SentimentDataError("the file has a header but no rows")
    if len(body) > max_rows:
        raise SentimentDataError(f"too many rows: {len(body):,} (the limit is {max_rows:,})")
    width = len(header)
    padded = [row + [""] * (width - len(row)) for row in body]
    problems = [text_problem(row[col]) for row in padded]
    if all(problems):
        shown = "; ".join(f"row {n}: {p}" for n, p in enumerate(problems[:3], start=FIRST_ROW))
        more = f"; and {len(problems) - 3:,} more" if len(problems) > 3 else ""
        raise SentimentDataError(f"no row has a text to score ({shown}{more})")
    return TextTable(header=header, rows=padded, text_column=col)


def earlier_scores(scored: bytes, column: str) -> dict[int, tuple[str, float]]:
    """The scores a ``scored_csv`` output holds: row number -> (text, probability), for the rows
    that have one. SentimentDataError when it is not such a file (for the texts' ``column``)."""
    rows = csv_rows(scored, max_bytes=len(scored))  # larger than its input: not the upload limit
    names = [h.strip().lower() for h in rows[0]]
    if column.strip().lower() not in names or SCORE_COLUMN not in names:
        raise SentimentDataError(f"not a scored CSV with a {column!r} column")
    text_col, score_col = names.index(column.strip().lower()), names.index(SCORE_COLUMN)
    found = {}
    for number, row in enumerate(rows[1:], start=FIRST_ROW):
        cells = row + [""] * (len(names) - len(row))
        if cells[score_col].strip():
            found[number] = (cells[text_col], float(cells[score_col]))
    return found
