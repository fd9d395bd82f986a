"""The R lazy-load reader on a hand-made database (so it is tested without the Debian package): R's
XDR serialization of character vectors and named lists, a repeated symbol as a reference, and the
gzip'd index + zlib'd values layout of Rdata.rdx / Rdata.rdb."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import pytest

from ml.common.rds import RFormatError, unserialize
from ml.textgen.data import AUSTEN_NOVELS, AustenDataError, austen_novels, austen_text, locate_austen

HAS_ATTR, HAS_TAG, UTF8 = 1 << 9, 1 << 10, 1 << 3


def _i(*values: int) -> bytes:
    return struct.pack(f">{len(values)}i", *values)


def _char(s: str | None) -> bytes:
    if s is None:
        return _i(9, -1)
    raw = s.encode()
    return _i(9 | UTF8 << 12, len(raw)) + raw


def _strs(items: list[str | None]) -> bytes:
    return _i(16, len(items)) + b"".join(_char(s) for s in items)


class _Writer:
    """Just enough of R's serializer: symbols are written once, then referred to."""

    def __init__(self) -> None:
        self.symbols: list[str] = []

    def symbol(self, name: str) -> bytes:
        if name in self.symbols:
            return _i(255 | (self.symbols.index(name) + 1) << 8)
        self.symbols.append(name)
        return _i(1) + _char(name)

    def named_list(self, items: dict[str, bytes]) -> bytes:
        body = _i(19 | HAS_ATTR, len(items)) + b"".join(items.values())
        attrs = _i(2 | HAS_TAG) + self.symbol("names") + _strs(list(items)) + _i(254)
        return body + attrs


def _serialize(body: bytes) -> bytes:
    return b"X\n" + _i(3, 0x040201, 0x030500, 5) + b"UTF-8" + body


def test_unserialize_vectors() -> None:
    w = _Writer()
    data = _serialize(w.named_list({"a": _strs(["x", None, "é"]), "b": _i(13, 2, 7, -(2**31)),
                                    "c": w.named_list({"d": _i(10, 1, 1)})}))
    assert unserialize(data) == {"a": ["x", None, "é"], "b": [7, None], "c": {"d": [True]}}
    with pytest.raises(RFormatError, match=r"^not an R XDR serialization \(expected 'X\\n'\)$"):
        unserialize(b"RDX3\n")
    with pytest.raises(RFormatError, match="ends early"):
        unserialize(data[:-10])


def test_reads_a_lazy_load_database(tmp_path: Path) -> None:
    rdb, index = b"", {}
    for name in AUSTEN_NOVELS:
        value = _serialize(_strs([name.upper(), "", f"Chapter 1 of {name}"]))
        blob = struct.pack(">I", len(value)) + zlib.compress(value)
        index[name] = _i(13, 2, len(rdb), len(blob))
        rdb += blob
    w = _Writer()
    rdx = _serialize(w.named_list({"variables": w.named_list(index), "references": _i(19, 0),
                                   "compressed": _i(10, 1, 1)}))
    (tmp_path / "Rdata.rdb").write_bytes(rdb)
    (tmp_path / "Rdata.rdx").write_bytes(gzip.compress(rdx))
    assert locate_austen(tmp_path) == tmp_path
    novels = austen_novels(tmp_path)
    assert list(novels) == list(AUSTEN_NOVELS)
    assert novels["emma"] == "EMMA\n\nChapter 1 of emma\n"
    assert austen_text(tmp_path).startswith("SENSESENSIBILITY\n")
    (tmp_path / "Rdata.rdb").write_bytes(rdb[:-5])
    with pytest.raises(AustenDataError, match="^Rdata.rdb is shorter than its index says$"):
        austen_novels(tmp_path)
