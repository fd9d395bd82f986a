"""Jane Austen's six novels (public domain) from the Debian package r-cran-janeaustenr, read with the
standard library only: training text for the char-RNN that needs no download at run time.

The package keeps its data in R's lazy-load database: ``Rdata.rdx`` (a gzip'd R serialization of
the index ``list(variables = list(name = c(offset, length)), references, compressed)``) and
``Rdata.rdb`` (the values, each a 4-byte big-endian length plus a zlib stream, or with R's compress=2
or 3 a type byte first). Each novel is a character vector of lines. ``rds.py`` reads the XDR format.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import struct
import zlib
from pathlib import Path
from typing import Any

from ml.textgen.rds import RFormatError, unserialize

DEBIAN_DATA = Path("/usr/lib/R/site-library/janeaustenr/data")
# Where scripts/text_data.sh unpacked the package instead of installing it (it prints this).
ENV_VAR = "JANEAUSTENR_DATA"
# In publication order, as janeaustenr::austen_books() lists them.
NOVELS = ("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion")
TITLES = {
    "sensesensibility": "Sense & Sensibility",
    "prideprejudice": "Pride & Prejudice",
    "mansfieldpark": "Mansfield Park",
    "emma": "Emma",
    "northangerabbey": "Northanger Abbey",
    "persuasion": "Persuasion",
}


class AustenDataError(ValueError):
    """The janeaustenr files are missing or unreadable; the message says how to get them."""


def locate(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding Rdata.rdx and Rdata.rdb: ``path`` (that folder or the package's root),
    else $JANEAUSTENR_DATA, else the Debian install location. Raises AustenDataError naming what
    to install."""
    if path is None and os.environ.get(ENV_VAR):
        path = os.environ[ENV_VAR]
    candidates = [Path(path), Path(path) / "data"] if path is not None else [DEBIAN_DATA]
    for folder in candidates:
        if (folder / "Rdata.rdx").is_file() and (folder / "Rdata.rdb").is_file():
            return folder
    where = candidates[0]
    raise AustenDataError(f"no janeaustenr data at {where}: install the Debian package r-cran-janeaustenr "
                          f"(or apt-get download it and dpkg-deb -x it, then give its data folder)")


def read_index(folder: Path) -> dict[str, tuple[int, int]]:
    """Name -> (offset, length) in Rdata.rdb for every variable of the lazy-load database."""
    try:
        index = unserialize(gzip.decompress((folder / "Rdata.rdx").read_bytes()))
    except (OSError, EOFError, zlib.error, RFormatError) as exc:
        raise AustenDataError(f"cannot read {folder / 'Rdata.rdx'}: {exc}") from exc
    variables = _field(index, "variables")
    return {name: (int(v[0]), int(v[1])) for name, v in variables.items()}


def read_variable(folder: Path, offset: int, length: int) -> Any:
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


def novels(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Name (``NOVELS``) -> the novel's text, its lines joined with newlines."""
    folder = locate(path)
    index = read_index(folder)
    missing = [n for n in NOVELS if n not in index]
    if missing:
        raise AustenDataError(f"the janeaustenr data lacks {', '.join(missing)}")
    out = {}
    for name in NOVELS:
        lines = read_variable(folder, *index[name])
        if not isinstance(lines, list) or not all(isinstance(s, str) or s is None for s in lines):
            raise AustenDataError(f"{name} in the janeaustenr data is not a character vector")
        out[name] = "\n".join(s or "" for s in lines) + "\n"  # NA lines (none expected) as blanks
    return out


def text(path: str | os.PathLike[str] | None = None) -> str:
    """All six novels in publication order, one blank line between them: about 4 M characters."""
    return "\n".join(novels(path).values())


def _field(obj: Any, name: str) -> Any:
    if not isinstance(obj, dict) or name not in obj:
        raise AustenDataError(f"not an R lazy-load index: no {name!r}")
    return obj[name]
