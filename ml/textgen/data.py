"""A user's training text for the char-RNN: read it with errors fit to show a user, list its
characters (the vocabulary) and split off the validation text.

Every problem is a ``TextDataError`` (a ValueError) whose message says what is wrong and what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_BYTES = 10_000_000  # 10 MB: a few novels; char-RNN training on more takes days on a CPU
# Fewer characters than this cannot fill one training batch plus a validation share worth measuring.
MIN_CHARS = 1_000


class TextDataError(ValueError):
    """The training text cannot be used; the message is fit to show a user."""


def read_text(source: bytes | str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
              min_chars: int = MIN_CHARS) -> str:
    """The text of a UTF-8 file given as its bytes or its path. Windows line ends become ``\\n`` and a
    byte-order mark is dropped, so the vocabulary does not learn them as characters.

    Raises TextDataError when the file is missing, empty, ``max_bytes`` or larger, not UTF-8 (the
    message gives the line and column of the first bad byte) or shorter than ``min_chars``.
    """
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            if size >= max_bytes:  # refuse before reading a huge file into memory
                raise TextDataError(_too_large(size, max_bytes))
            data = path.read_bytes()
        except OSError as exc:
            raise TextDataError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if len(data) >= max_bytes:
        raise TextDataError(_too_large(len(data), max_bytes))
    if not data.strip():
        raise TextDataError("the text is empty: give a plain-text file with the writing to learn from")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise TextDataError(
            f"the text is not UTF-8: byte 0x{data[exc.start]:02x} at line {line}, column {column} "
            f"(byte offset {exc.start}); save the file as UTF-8 and try again") from exc
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if len(text) < min_chars:
        raise TextDataError(f"the text is too short to train on: {len(text):,} characters, at least "
                            f"{min_chars:,} needed (a few pages; a novel or more gives good results)")
    return text


def _too_large(size: int, max_bytes: int) -> str:
    return (f"the text is too large: {size:,} bytes, the limit is under {max_bytes:,} bytes "
            f"({max_bytes / 1e6:g} MB); use an excerpt")


def vocabulary(text: str) -> str:
    """The characters of ``text``, sorted by code point, as one string: tokens[i] is index i. Sorted
    (not Udacity's set order) so the same text always gives the same indices."""
    return "".join(sorted(set(text)))


@dataclass(frozen=True)
class Split:
    train: str
    validation: str


def split(text: str, val_fraction: float = 0.1) -> Split:
    """The last ``val_fraction`` of the text, contiguous, held out for validation: a contiguous end
    (not scattered lines) keeps the model from seeing the validation sentences' neighbours."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    cut = len(text) - int(len(text) * val_fraction)
    return Split(train=text[:cut], validation=text[cut:])
