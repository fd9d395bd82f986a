"""Labelled CSVs (ours and Pang & Lee's layout), every refusal a user could meet, the split, and the
aclImdb folder reader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ml.sentiment.data import LabelledTexts, SentimentDataError, read_csv, read_imdb, split


def test_header_csv_with_extra_columns_and_label_words() -> None:
    data = read_csv(b"id,label,text\n1,pos,Loved it\n2,NEGATIVE,\"Hated it, really\"\n3,0,meh\n")
    assert data.texts == ["Loved it", "Hated it, really", "meh"]
    assert data.labels == [1, 0, 0]


def test_pang_lee_layout_with_bom_and_no_header(tmp_path: Path) -> None:
    path = tmp_path / "polarity.csv"
    path.write_bytes('\ufeff"1","a charming film"\n"-1","a dull, lifeless mess"\n'.encode())
    data = read_csv(path)
    assert data.texts == ["a charming film", "a dull, lifeless mess"] and data.labels == [1, 0]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty: no texts in it"),
    (b"  \n\n", "the file is empty: no texts in it"),
    (b"text,label\ngood,1\n\xff\xfebad,0\n",
     "the file is not UTF-8 text: invalid bytes on line 3 (save it as UTF-8 CSV)"),
    (b"text,score\ngood,1\n", "missing column: label"),
    (b"review,stars\ngood,5\n", "missing columns: the first row must be a header naming 'text' and 'label' "
                                "columns (or every row 'label,text' with labels 1/-1)"),
    (b"text,label\ngood,1\nbad,\n", "row 3: the label is missing"),
    (b"text,label\ngood,1\nbad,3\n", "row 3: label '3' is not binary"),
    (b"text,label\ngood,1\nbad,maybe\n",
     "row 3: label 'maybe' is not binary (use 0/1, -1/1, pos/neg or positive/negative)"),
    (b"text,label\ngood,1\n  ,0\n", "row 3: the text is empty"),
    (b"text,label\n", "the file has a header but no rows"),
    # An unclosed quote: Python's csv would read lines 2-4 as one text ("only 1 texts").
    (b'text,label\n"great film,1\nbad film,0\nok,1\n',
     'a quote opened on line 2 is never closed, so lines 2 to 4 would be read as one text: close it '
     '(a quote inside a quoted text is written twice, "")'),
])
def test_csv_refusals(content: bytes, message: str) -> None:
    with pytest.raises(SentimentDataError, match=f"^{re.escape(message)}"):
        read_csv(content)


def test_quotes_that_close_across_lines_and_stray_quotes_are_still_read() -> None:
    table = read_csv(b'text,label\n"a film\nin two lines",1\na 5" screen,0\n"ends ""well""\non line 6",1\n')
    assert table.texts == ["a film\nin two lines", 'a 5" screen', 'ends "well"\non line 6']


def test_too_many_rows_gives_the_count() -> None:
    content = b"text,label\n" + b"ok film,1\n" * 100_000
    with pytest.raises(SentimentDataError, match="too many rows: 100,000 \\(the limit is 50,000\\)"):
        read_csv(content)
    assert len(read_csv(content, max_rows=100_000)) == 100_000


def test_too_large(tmp_path: Path) -> None:
    content = b"text,label\n" + (b"x" * 1000 + b",1\n") * 10_100  # just over 10 MB
    message = r"^the file is too large: 10,130,311 bytes \(the limit is 10,000,000\)$"
    with pytest.raises(SentimentDataError, match=message):
        read_csv(content)
    path = tmp_path / "big.csv"
    path.write_bytes(content)
    with pytest.raises(SentimentDataError, match=message):
        read_csv(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SentimentDataError, match="cannot read nope.csv"):
        read_csv(tmp_path / "nope.csv")


def test_split_is_deterministic_disjoint_and_stratified() -> None:
    data = LabelledTexts([f"text {i}" for i in range(60)], [1 if i < 20 else 0 for i in range(60)])
    a, b, c = split(data, seed=3), split(data, seed=3), split(data, seed=4)
    assert a == b and a != c
    assert (len(a.train), len(a.validation), len(a.test)) == (48, 6, 6)
    assert sorted(a.train.texts + a.validation.texts + a.test.texts) == sorted(data.texts)
    assert sum(a.test.labels) == 2 and sum(a.validation.labels) == 2  # a third positive, as in the data
    tiny = split(LabelledTexts(["a", "b", "c", "d", "e", "f"], [0, 1, 0, 1, 0, 1]), seed=0)
    assert sorted(tiny.test.labels) == [0, 1] and sorted(tiny.validation.labels) == [0, 1]


def test_imdb_folder(tmp_path: Path) -> None:
    for part in ("train", "test"):
        for name in ("pos", "neg"):
            (tmp_path / part / name).mkdir(parents=True)
            for i in range(3):
                (tmp_path / part / name / f"{i}_7.txt").write_text(f"{name} review {i}<br />more")
    data = read_imdb(tmp_path, "train", max_per_class=2)
    assert data.labels == [1, 1, 0, 0] and data.texts[0] == "pos review 0 more"
    assert len(read_imdb(tmp_path, "test")) == 6
    with pytest.raises(SentimentDataError, match="not an aclImdb folder"):
        read_imdb(tmp_path / "train")
