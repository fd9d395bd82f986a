"""Score a CSV of texts: read it, and write it back with a score column per row.

The CSV needs a header row; the texts are in the column named ``text`` (or another column the
caller names). Every other column is kept as it was, so ids and labels the user had travel through;
two columns are added: ``positive_probability`` (the model's probability that the text is positive,
rounded to 4 places) and ``predicted`` (positive/negative). A column called ``label`` with binary
values (as the training CSVs have) is also used to report accuracy.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ml.sentiment.data import LABELS, MAX_BYTES, MAX_ROWS, SentimentDataError, csv_rows

SCORE_COLUMN, PREDICTED_COLUMN = "positive_probability", "predicted"


@dataclass
class TextTable:
    header: list[str]
    rows: list[list[str]]  # as read, each padded to the header's width
    text_column: int

    @property
    def texts(self) -> list[str]:
        return [row[self.text_column] for row in self.rows]

    def labels(self) -> list[int] | None:
        """The rows' binary labels when the file has a complete ``label`` column; else None."""
        names = [h.strip().lower() for h in self.header]
        if "label" not in names:
            return None
        col = names.index("label")
        values = [row[col].strip().lower() for row in self.rows]
        if not all(v in LABELS for v in values):
            return None
        return [LABELS[v] for v in values]


def read_texts(source: bytes | str | os.PathLike[str], column: str = "text", *, max_rows: int = MAX_ROWS,
               max_bytes: int = MAX_BYTES) -> TextTable:
    """The CSV's rows with the texts in ``column`` (matched without case); SentimentDataError says
    what is wrong: no such column (naming the ones there are), no rows, too many, empty texts."""
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
    empty = [n for n, row in enumerate(padded, start=2) if not row[col].strip()]
    if empty:
        more = f" and {len(empty) - 5} more" if len(empty) > 5 else ""
        raise SentimentDataError(f"empty text on row {', '.join(map(str, empty[:5]))}{more}")
    return TextTable(header=header, rows=padded, text_column=col)


def scored_csv(table: TextTable, probabilities: Sequence[float]) -> bytes:
    """The table as UTF-8 CSV with the two score columns added (replacing columns of those names)."""
    if len(probabilities) != len(table.rows):
        raise ValueError(f"{len(probabilities)} scores for {len(table.rows)} rows")
    names = [h.strip().lower() for h in table.header]
    keep = [i for i, name in enumerate(names) if name not in (SCORE_COLUMN, PREDICTED_COLUMN)]
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([table.header[i] for i in keep] + [SCORE_COLUMN, PREDICTED_COLUMN])
    for row, p in zip(table.rows, probabilities, strict=True):
        label = "positive" if p >= 0.5 else "negative"
        writer.writerow([row[i] for i in keep] + [f"{p:.4f}", label])
    return out.getvalue().encode("utf-8")
