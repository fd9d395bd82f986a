"""Scoring a CSV: the texts' column found by name, other columns kept, the score columns added;
rows that cannot be scored fail alone, with their reason; a cancel keeps the chunks done; a retry's
earlier scores are kept for unchanged rows; clear refusals of whole files; and the highlight segments
that join back to the text."""

from __future__ import annotations

import csv
import io

import pytest

from ml.common.metrics import score_histogram
from ml.common.progress import NOT_RUN
from ml.sentiment.data import (
    ERROR_COLUMN,
    PREDICTED_COLUMN,
    SCORE_COLUMN,
    SentimentDataError,
    earlier_scores,
    read_texts,
    text_problem,
)
from ml.sentiment.infer import TableScores, accuracy, predict_many, score_table, scored_csv, segments
from tests.ml.conftest import Recorder
from tests.ml.sentiment.conftest import bow_model

pytestmark = pytest.mark.usefixtures("one_thread")


def scores(*values: float | str) -> TableScores:
    """A TableScores from probabilities and reasons (a str is a failed row's reason)."""
    return TableScores([v if isinstance(v, float) else None for v in values],
                       [v if isinstance(v, str) else "" for v in values])


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_columns_are_kept_and_scores_added() -> None:
    data = "\ufeffid,Review,label\n7,\"Great, fun\",pos\n8,dull,neg\n9,\"multi\nline\",pos\n".encode()
    table = read_texts(data, "review")
    assert table.texts == ["Great, fun", "dull", "multi\nline"]
    assert table.labels() == [1, 0, 1]
    rows = list(csv.reader(io.StringIO(scored_csv(table, scores(0.91, 0.2, 0.5)).decode())))
    assert rows[0] == ["id", "Review", "label", SCORE_COLUMN, PREDICTED_COLUMN, ERROR_COLUMN]
    assert rows[1] == ["7", "Great, fun", "pos", "0.9100", "positive", ""]
    assert rows[2][3:] == ["0.2000", "negative", ""] and rows[3][1] == "multi\nline"


def test_labels_are_used_only_when_every_row_has_a_binary_one() -> None:
    assert read_texts(b"text,label\na,1\nb,maybe\n").labels() is None
    assert read_texts(b"text\na\n").labels() is None
    assert read_texts(b"text,label\na,1\nb,\nc,neg\n").labels([0, 2]) == [1, 0]


def test_a_row_fails_when_its_text_is_empty_wordless_or_too_long() -> None:
    assert text_problem("fine words") == ""
    assert text_problem("  \t") == "empty text"
    assert text_problem("?! ... --") == "no words (only spaces or punctuation)"
    assert text_problem("word " * 5000) == "too long: 25,000 characters (the limit is 20,000)"
    assert text_problem("word " * 5000, max_chars=30_000) == ""


def test_bad_rows_fail_alone_and_keep_their_cells_with_the_reason() -> None:
    sm = bow_model({"superb": 4.0, "awful": -4.0})
    data = b"id,text,label\n1,superb film,1\n2,,0\n3,?!,1\n4,awful plot,0\n5,superb superb,0\n"
    table = read_texts(data)
    rec = Recorder()
    result = score_table(sm, table, progress=rec)
    assert result.failed() == [(3, "empty text"), (4, "no words (only spaces or punctuation)")]
    assert result.scored == [0, 3, 4] and not result.cancelled and result.kept == 0
    assert [u["step"] for u in rec.updates] == [3] and rec.updates[-1]["total"] == 3
    assert accuracy(table, result) == pytest.approx(2 / 3)  # over the scored rows; row 6 is wrong
    out = rows_of(scored_csv(table, result))
    assert [r["id"] for r in out] == ["1", "2", "3", "4", "5"]
    assert out[1] == {"id": "2", "text": "", "label": "0", SCORE_COLUMN: "", PREDICTED_COLUMN: "",
                      ERROR_COLUMN: "empty text"}
    assert out[0][PREDICTED_COLUMN] == "positive" and out[0][ERROR_COLUMN] == ""
    assert out[3][PREDICTED_COLUMN] == "negative"
    assert float(out[3][SCORE_COLUMN]) == pytest.approx(predict_many(sm, ["awful plot"])[0], abs=1e-4)


def test_a_cancel_keeps_the_chunks_done_and_marks_the_rest_not_run() -> None:
    sm = bow_model({"superb": 4.0})
    table = read_texts(("text\n" + "superb film\n" * 5 + "?\n" + "the plot\n" * 4).encode())
    result = score_table(sm, table, progress=Recorder(cancel_after=2), chunk=2)
    assert result.cancelled
    assert result.scored == [0, 1, 2, 3]  # two chunks of two
    assert result.failed() == ([(6, NOT_RUN), (7, "no words (only spaces or punctuation)")]
                               + [(n, NOT_RUN) for n in range(8, 12)])
    out = rows_of(scored_csv(table, result))
    assert [r[ERROR_COLUMN] for r in out].count(NOT_RUN) == 5


def test_a_retry_keeps_earlier_scores_of_unchanged_rows_and_scores_the_rest() -> None:
    sm = bow_model({"superb": 4.0, "awful": -4.0})
    first = read_texts(b"id,text\n1,superb film\n2,\n3,awful plot\n4,the film\n")
    first_scores = score_table(sm, first)
    assert first_scores.failed() == [(3, "empty text")]
    earlier = earlier_scores(scored_csv(first, first_scores), "text")
    assert sorted(earlier) == [2, 4, 5] and earlier[4][0] == "awful plot"
    # Row 3 fixed; row 5 changed (scored anew); row 2's earlier score is made up to see it kept.
    fixed = read_texts(b"id,text\n1,superb film\n2,superb\n3,awful plot\n4,awful film\n")
    rec = Recorder()
    result = score_table(sm, fixed, {**earlier, 2: ("superb film", 0.1234)}, progress=rec)
    assert result.failed() == [] and result.kept == 2
    assert result.scores[0] == 0.1234 and result.scores[2] == earlier[4][1]
    assert rec.updates[-1]["step"] == 2 and rec.updates[-1]["total"] == 2  # only rows 3 and 5 ran
    assert rows_of(scored_csv(fixed, result))[0][SCORE_COLUMN] == "0.1234"


def test_earlier_scores_refuse_a_file_without_the_columns() -> None:
    with pytest.raises(SentimentDataError, match="not a scored CSV"):
        earlier_scores(b"text,other\nhi,1\n", "text")


def test_old_score_columns_are_replaced_not_repeated() -> None:
    table = read_texts(f"text,{ERROR_COLUMN},{SCORE_COLUMN}\nhello,oops,0.1\n".encode())
    header = scored_csv(table, scores(0.7)).decode().splitlines()[0]
    assert header == f"text,{SCORE_COLUMN},{PREDICTED_COLUMN},{ERROR_COLUMN}"


@pytest.mark.parametrize(("data", "message"), [
    (b"", "^the file is empty: no texts in it$"), (b" \n\n", "^the file is empty: no texts in it$"),
    (b"body\nx\n", "no 'text' column"), (b"text\n", "header but no rows"),
    (b"text\n\xff\n", "not UTF-8"),
    (b"a,text\n1,\n2,?!\n", "no row has a text to score \\(row 2: empty text; row 3: no words"),
    (b"text\n" + b"?\n" * 5, r"row 4: no words .*\); and 2 more\)"),
])
def test_refusals(data: bytes, message: str) -> None:
    with pytest.raises(SentimentDataError, match=message):
        read_texts(data)


def test_row_limit_names_the_count() -> None:
    with pytest.raises(SentimentDataError, match="too many rows: 11"):
        read_texts(b"text\n" + b"x\n" * 11, max_rows=10)


def test_a_mismatched_score_list_is_an_error() -> None:
    with pytest.raises(ValueError, match="2 scores for 1 rows"):
        scored_csv(read_texts(b"text\nx\n"), scores(0.1, 0.2))


def test_segments_join_back_and_match_words_as_tokenised() -> None:
    text = "Great  movie!\nNot   bad -- really. Don't"
    pieces = segments(text, {"great": 0.3, "bad": -0.1, "dont": 0.05})
    assert "".join(p for p, _ in pieces) == text
    weighted = {p: w for p, w in pieces if w is not None}
    assert weighted == {"Great": 0.3, "bad": -0.1, "Don't": 0.05}


def test_histogram_is_a_picture() -> None:
    image = score_histogram([0.1, 0.2, 0.9, 0.95, 0.99])
    assert image.size == (400, 220) and image.getextrema() != ((255, 255), (255, 255), (255, 255))
