"""The char-RNN's training text: the user-facing errors, the vocabulary, the split, and the Austen
reader on the real janeaustenr files (skipped where they are absent, except on CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.textgen.data import (
    AUSTEN_NOVELS,
    AustenDataError,
    TextDataError,
    austen_novels,
    locate_austen,
    read_text,
    split,
    vocabulary,
)
from ml.textgen.formats import decode, encode
from tests.conftest import unavailable

TEXT = "It is a truth universally acknowledged, that a single man in possession of a good fortune.\n" * 20


def test_reads_bytes_and_path(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT.replace("\n", "\r\n").encode())
    assert read_text(path) == TEXT  # BOM dropped, Windows line ends made \n
    assert read_text(TEXT.encode()) == TEXT


@pytest.mark.parametrize("data", [b"", b"  \n\n "])
def test_empty(data: bytes) -> None:
    with pytest.raises(TextDataError, match="^the text is empty: give a plain-text file with the writing"):
        read_text(data)


def test_invalid_utf8_says_where() -> None:
    data = b"first line\nsecond \xff line\n" + b"x" * 2000
    with pytest.raises(TextDataError, match=r"not UTF-8: byte 0xff at line 2, column 8"):
        read_text(data)


def test_too_large(tmp_path: Path) -> None:
    with pytest.raises(TextDataError, match=r"^the text is too large: 10,000,000 bytes, the limit is under "
                                            r"10,000,000 bytes \(10 MB\)"):
        read_text(b"a" * 10_000_000)  # 10 MB exactly is refused
    assert len(read_text(b"a" * 9_999_999)) == 9_999_999
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * 2000)
    with pytest.raises(TextDataError, match="too large: 2,000 bytes"):
        read_text(path, max_bytes=2000)


def test_too_short_says_how_many() -> None:
    with pytest.raises(TextDataError, match="10 characters, at least 1,000 needed"):
        read_text(b"0123456789")


@pytest.mark.parametrize("data", [
    " \u3000\n".encode() * 1000,  # ideographic spaces: bytes.strip() keeps them, str.isspace() does not
    b"\n" * 2000 + b"x" * 499 + b"\t" * 100,
])
def test_whitespace_is_not_writing(data: bytes) -> None:
    writing = data.decode().count("x")
    with pytest.raises(TextDataError) as exc:
        read_text(data)
    assert str(exc.value) == (f"the text has too little writing to train on: {writing:,} characters that "
                              f"are not spaces or line breaks, at least 500 needed")
    assert len(read_text(b" " * 600 + b"x" * 500)) == 1100  # 500 is enough


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TextDataError, match="cannot read nope.txt"):
        read_text(tmp_path / "nope.txt")


def test_vocabulary_and_round_trip() -> None:
    tokens = vocabulary(TEXT)
    assert tokens == "".join(sorted(set(TEXT))) and len(tokens) == len(set(tokens))
    assert decode(encode(TEXT, tokens), tokens) == TEXT


def test_split_holds_out_the_end() -> None:
    parts = split("abcdefghij", 0.2)
    assert (parts.train, parts.validation) == ("abcdefgh", "ij")
    assert split("abc", 0.0).validation == ""
    with pytest.raises(ValueError, match=r"^val_fraction must be in \[0, 1\), got 1.0$"):
        split("abc", 1.0)


def test_locate_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(AustenDataError, match="r-cran-janeaustenr"):
        locate_austen(tmp_path)


def _austen_folder() -> Path:
    """The janeaustenr files where scripts/text_data.sh unpacked them ($JANEAUSTENR_DATA; .ci/run
    does this) or installed; CI must have them."""
    try:
        return locate_austen()
    except AustenDataError as exc:
        unavailable(f"no janeaustenr data (bash scripts/text_data.sh): {exc}")


def test_austen_novels() -> None:
    novels = austen_novels(_austen_folder())
    assert list(novels) == list(AUSTEN_NOVELS)
    assert novels["prideprejudice"].startswith("PRIDE AND PREJUDICE")
    assert "It is a truth universally acknowledged" in novels["prideprejudice"]
    assert novels["emma"].startswith("EMMA")
    total = sum(map(len, novels.values()))
    assert 3_900_000 < total < 4_100_000  # the six novels are about 4.0 M characters
