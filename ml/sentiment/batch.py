"""Score a CSV of texts: read it, score each row that has a text to score, and write it back with a
score, or the reason there is none, on every row.

The CSV needs a header row; the texts are in the column named ``text`` (or another column the
caller names). Every other column is kept as it was, so ids and labels the user had travel through;
three columns are added: ``positive_probability`` (the model's probability that the text is
positive, rounded to 4 places), ``predicted`` (positive/negative) and ``error`` (why the row has no
score: an empty text, one with no words, one over ``MAX_TEXT_CHARS``, or a batch cancelled before
it; empty on a scored row). A column called ``label`` with binary values (as the training CSVs
have) is also used to report accuracy, over the scored rows.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first text row 2 (blank
lines are not rows). A retry of a batch matches rows by that number: a row keeps its earlier score
when it had one and its text is unchanged, and every other row is scored.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ml.common.progress import NOT_RUN, NullProgress, Progress
from ml.sentiment.data import LABELS, MAX_BYTES, MAX_ROWS, SentimentDataError, csv_rows
from ml.sentiment.predict import BATCH_CHUNK, SentimentModel, predict_many
from ml.sentiment.text import tokenize

SCORE_COLUMN, PREDICTED_COLUMN, ERROR_COLUMN = "positive_probability", "predicted", "error"
MAX_TEXT_CHARS = 20_000  # a long review is ~2,000; more is not a review
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
