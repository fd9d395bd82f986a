"""Training text for the char-RNN, and how training cuts it up.

- A user's file: read it with errors fit to show a user (``read_text``), list its characters (the
  vocabulary) and split off the validation text. Every problem is a ``TextDataError`` (a ValueError)
  whose message says what is wrong and what to do.
- The run's plan (``plan_run``: batch size, sequence length, steps) and the rows each step reads.
- Jane Austen's six novels (public domain) from the Debian package r-cran-janeaustenr, read with the
  standard library only: training text that needs no download at run time. The package keeps its
  data in R's lazy-load database: ``Rdata.rdx`` (a gzip'd R serialization of the index
  ``list(variables = list(name = c(offset, length)), references, compressed)``) and ``Rdata.rdb``
  (the values, each a 4-byte big-endian length plus a zlib stream, or with R's compress=2 or 3 a
  type byte first). Each novel is a character vector of lines. ml/common/rds.py reads the XDR format.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from ml.common.rds import RFormatError, unserialize
from ml.common.training import TrainError
from ml.textgen.config import (
    DRY_RUN_BATCH,
    DRY_RUN_HIDDEN,
    DRY_RUN_SAMPLE,
    DRY_RUN_SEQ,
    DRY_RUN_STEPS,
    TrainConfig,
)

DEFAULT_MAX_BYTES = 10_000_000  # 10 MB: a few novels; char-RNN training on more takes days on a CPU
# Fewer characters than this cannot fill one training batch plus a validation share worth measuring.
MIN_CHARS = 1_000
FEW_CHARS = 100_000  # below this the net mostly memorises; say so
# Spaces and line breaks alone teach nothing (a whitespace-only file would "train" a model that
# writes blanks): the writing itself must fill at least this many characters.
MIN_WRITING = 500


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
    too_little = little_writing(text, min(MIN_WRITING, min_chars))
    if too_little:
        raise TextDataError(too_little)
    return text


def little_writing(text: str, needed: int = MIN_WRITING) -> str | None:
    """Why ``text`` has too little writing to train on (fewer than ``needed`` characters that are not
    spaces, tabs or line breaks), as a message fit for a user; None when it has enough."""
    writing = sum(not c.isspace() for c in text)
    if writing >= needed:
        return None
    return (f"the text has too little writing to train on: {writing:,} characters that are not spaces "
            f"or line breaks, at least {needed:,} needed")


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


# --- the run's plan ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What the run does, once the text is known."""

    tokens: str
    n_hidden: int
    train_chars: int
    val_chars: int
    batch_size: int
    seq_length: int
    steps_per_epoch: int
    total_steps: int
    fingerprint: str  # of the text: a resume must see the same one
    report_every: int
    sample_length: int
    prime: str


def as_rows(indices: torch.Tensor, rows: int, cols: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, cols) inputs and next-character targets: row r reads indices[r*cols : (r+1)*cols]."""
    x = indices[:rows * cols].view(rows, cols)
    y = indices[1:rows * cols + 1].view(rows, cols)
    return x, y


def plan_run(cfg: TrainConfig, text: str, notes: list[str]) -> Plan:
    """The run's vocabulary, batch, sequence length and steps, from the text (TrainError when it is
    too short); adjustments and advice go to ``notes``."""
    too_little = little_writing(text)
    if too_little:
        raise TrainError(too_little)
    parts = split(text, cfg.val_fraction)
    if len(parts.validation) < 2:
        raise TrainError(f"the text is too short: {len(text):,} characters leave {len(parts.validation)} "
                         f"to measure the validation loss on, at least 2 needed")
    batch = min(cfg.batch_size, DRY_RUN_BATCH) if cfg.dry_run else cfg.batch_size
    seq = min(cfg.seq_length, DRY_RUN_SEQ) if cfg.dry_run else cfg.seq_length
    usable = len(parts.train) - 1  # the last character is only ever a target
    if usable < seq:
        raise TrainError(f"the text is too short: {len(parts.train):,} training characters, at least "
                         f"{seq + 1:,} needed for one sequence of {seq}; lower the sequence length or "
                         f"give more text")
    if usable < batch * seq:
        notes.append(f"only {len(parts.train):,} training characters: batch size {batch} lowered to "
                     f"{usable // seq}")
        batch = usable // seq
    steps = usable // (batch * seq)
    if cfg.dry_run:
        steps = min(steps, DRY_RUN_STEPS)
        notes.append(f"dry run: {len(text):,} characters, {DRY_RUN_HIDDEN} hidden units, batch {batch} x "
                     f"{seq}, {steps} steps per epoch")
    elif len(text) < FEW_CHARS:
        notes.append(f"only {len(text):,} characters: a char-RNN needs hundreds of thousands to write "
                     f"more than echoes of them")
    tokens = vocabulary(text)
    prime = cfg.sample_prime if cfg.sample_prime and set(cfg.sample_prime) <= set(tokens) else text[0]
    if prime != cfg.sample_prime:
        notes.append(f"the sample prime {cfg.sample_prime!r} has characters the text lacks: using {prime!r}")
    return Plan(tokens=tokens, n_hidden=DRY_RUN_HIDDEN if cfg.dry_run else cfg.n_hidden,
                train_chars=len(parts.train), val_chars=len(parts.validation), batch_size=batch,
                seq_length=seq, steps_per_epoch=steps, total_steps=steps * cfg.epochs,
                fingerprint=hashlib.sha256(text.encode()).hexdigest()[:16],
                report_every=1 if cfg.dry_run else cfg.report_every,
                sample_length=min(cfg.sample_length, DRY_RUN_SAMPLE) if cfg.dry_run else cfg.sample_length,
                prime=prime)


# --- Jane Austen's novels (r-cran-janeaustenr) -------------------------------------------------------

AUSTEN_DEBIAN_DATA = Path("/usr/lib/R/site-library/janeaustenr/data")
# Where scripts/text_data.sh unpacked the package instead of installing it (it prints this).
AUSTEN_ENV_VAR = "JANEAUSTENR_DATA"
# In publication order, as janeaustenr::austen_books() lists them.
AUSTEN_NOVELS = ("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey",
                 "persuasion")
AUSTEN_TITLES = {
    "sensesensibility": "Sense & Sensibility",
    "prideprejudice": "Pride & Prejudice",
    "mansfieldpark": "Mansfield Park",
    "emma": "Emma",
    "northangerabbey": "Northanger Abbey",
    "persuasion": "Persuasion",
}


class AustenDataError(ValueError):
    """The janeaustenr files are missing or unreadable; the message says how to get them."""


def locate_austen(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding Rdata.rdx and Rdata.rdb: ``path`` (that folder or the package's root),
    else $JANEAUSTENR_DATA, else the Debian install location. Raises AustenDataError naming what
    to install."""
    if path is None and os.environ.get(AUSTEN_ENV_VAR):
        path = os.environ[AUSTEN_ENV_VAR]
    candidates = [Path(path), Path(path) / "data"] if path is not None else [AUSTEN_DEBIAN_DATA]
    for folder in candidates:
        if (folder / "Rdata.rdx").is_file() and (folder / "Rdata.rdb").is_file():
            return folder
    where = candidates[0]
    raise AustenDataError(f"no janeaustenr data at {where}: install the Debian package r-cran-janeaustenr "
                          f"(or apt-get download it and dpkg-deb -x it, then give its data folder)")


def read_rdata_index(folder: Path) -> dict[str, tuple[int, int]]:
    """Name -> (offset, length) in Rdata.rdb for every variable of the lazy-load database."""
    try:
        index = unserialize(gzip.decompress((folder / "Rdata.rdx").read_bytes()))
    except (OSError, EOFError, zlib.error, RFormatError) as exc:
        raise AustenDataError(f"cannot read {folder / 'Rdata.rdx'}: {exc}") from exc
    variables = _field(index, "variables")
    return {name: (int(v[0]), int(v[1])) for name, v in variables.items()}


def read_rdata_variable(folder: Path, offset: int, length: int) -> Any:
    """One value of the database, decompressed and unserialized."""
    with open(folder / "Rdata.rdb", "rb") as f:
        f.seek(offset)
        blob = f.read(length)
    if len(blob) != length:
        raise AustenDataError("Rdata.rdb is shorter than its index says")
    (size,) = struct.unpack(">I", blob[:4])
    try:
        data = _decompress(blob[4:])
    except (zlib.error, OSError, lzma.LZMAError) as exc:
        raise AustenDataError(f"cannot decompress a value of Rdata.rdb: {exc}") from exc
    if len(data) != size:
        raise AustenDataError("a value of Rdata.rdb has the wrong length after decompression")
    return unserialize(data)


def _decompress(body: bytes) -> bytes:
    # compress=TRUE writes the zlib stream straight after the length; compress=2/3 put a type byte
    # first ('Z' zlib, '2' bzip2, 'X' xz, '0' stored). A zlib stream starts with 0x78, no type byte.
    kind, rest = body[:1], body[1:]
    if kind == b"2":
        return bz2.decompress(rest)
    if kind == b"X":
        return lzma.decompress(rest)
    if kind == b"0":
        return rest
    return zlib.decompress(rest if kind == b"Z" else body)


def austen_novels(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Name (``AUSTEN_NOVELS``) -> the novel's text, its lines joined with newlines."""
    folder = locate_austen(path)
    index = read_rdata_index(folder)
    missing = [n for n in AUSTEN_NOVELS if n not in index]
    if missing:
        raise AustenDataError(f"the janeaustenr data lacks {', '.join(missing)}")
    out = {}
    for name in AUSTEN_NOVELS:
        lines = read_rdata_variable(folder, *index[name])
        if not isinstance(lines, list) or not all(isinstance(s, str) or s is None for s in lines):
            raise AustenDataError(f"{name} in the janeaustenr data is not a character vector")
        out[name] = "\n".join(s or "" for s in lines) + "\n"  # NA lines (none expected) as blanks
    return out


def austen_text(path: str | os.PathLike[str] | None = None) -> str:
    """All six novels in publication order, one blank line between them: about 4 M characters."""
    return "\n".join(austen_novels(path).values())


def _field(obj: Any, name: str) -> Any:
    if not isinstance(obj, dict) or name not in obj:
        raise AustenDataError(f"not an R lazy-load index: no {name!r}")
    return obj[name]
