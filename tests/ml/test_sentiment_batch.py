"""Scoring a CSV: the texts' column found by name, other columns kept, the score columns added;
clear refusals; and the highlight segments that join back to the text."""

from __future__ import annotations

import csv
import io

import pytest

from ml.sentiment.batch import PREDICTED_COLUMN, SCORE_COLUMN, read_texts, scored_csv
from ml.sentiment.data import SentimentDataError
from ml.sentiment.metrics import score_histogram
from ml.sentiment.predict import segments


def test_columns_are_kept_and_scores_added() -> None:
    data = "\ufeffid,Review,label\n7,\"Great, fun\",pos\n8,dull,neg\n9,\"multi\nline\",pos\n".encode()
    table = read_texts(data, "review")
    assert table.texts == ["Great, fun", "dull", "multi\nline"]
    assert table.labels() == [1, 0, 1]
    rows = list(csv.reader(io.StringIO(scored_csv(table, [0.91, 0.2, 0.5]).decode())))
    assert rows[0] == ["id", "Review", "label", SCORE_COLUMN, PREDICTED_COLUMN]
    assert rows[1] == ["7", "Great, fun", "pos", "0.9100", "positive"]
    assert rows[2][3:] == ["0.2000", "negative"] and rows[3][1] == "multi\nline"


def test_labels_are_used_only_when_every_row_has_a_binary_one() -> None:
    assert read_texts(b"text,label\na,1\nb,maybe\n").labels() is None
    assert read_texts(b"text\na\n").labels() is None


def test_old_score_columns_are_replaced_not_repeated() -> None:
    table = read_texts(f"text,{SCORE_COLUMN}\nhello,0.1\n".encode())
    header = scored_csv(table, [0.7]).decode().splitlines()[0]
    assert header == f"text,{SCORE_COLUMN},{PREDICTED_COLUMN}"


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"), (b" \n\n", "empty"),
    (b"body\nx\n", "no 'text' column"), (b"text\n", "header but no rows"),
    (b"text\n\xff\n", "not UTF-8"), (b"a,text\n1,\n", "empty text on row 2"),
])
def test_refusals(data: bytes, message: str) -> None:
    with pytest.raises(SentimentDataError, match=message):
        read_texts(data)


def test_row_limit_names_the_count() -> None:
    with pytest.raises(SentimentDataError, match="too many rows: 11"):
        read_texts(b"text\n" + b"x\n" * 11, max_rows=10)


def test_a_mismatched_score_list_is_an_error() -> None:
    with pytest.raises(ValueError, match="2 scores for 1 rows"):
        scored_csv(read_texts(b"text\nx\n"), [0.1, 0.2])


def test_segments_join_back_and_match_words_as_tokenised() -> None:
    text = "Great  movie!\nNot   bad -- really. Don't"
    pieces = segments(text, {"great": 0.3, "bad": -0.1, "dont": 0.05})
    assert "".join(p for p, _ in pieces) == text
    weighted = {p: w for p, w in pieces if w is not None}
    assert weighted == {"Great": 0.3, "bad": -0.1, "Don't": 0.05}


def test_histogram_is_a_picture() -> None:
    image = score_histogram([0.1, 0.2, 0.9, 0.95, 0.99])
    assert image.size == (400, 220) and image.getextrema() != ((255, 255), (255, 255), (255, 255))
