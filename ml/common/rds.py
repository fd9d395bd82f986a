"""A small reader of R's XDR serialization (the format of saveRDS and of lazy-load databases), for
the data types a data package holds: vectors, lists, pairlists, symbols and strings.

Plain Python values come back: a character vector is a list of str (None for NA), an integer or
logical vector a list of int / bool (None for NA), a double vector a list of float, a list a Python
list, or a dict when every element is named. Other attributes are dropped. Environments,
closures and bytecode raise RFormatError: a data file has no need of them, and this reader builds
nothing but data. Format: R Internals, "Serialization Formats"; src/main/serialize.c.
"""

from __future__ import annotations

import struct
from typing import Any

NA_INTEGER = -(2**31)
# SEXP types (Rinternals.h) and the serializer's special codes (serialize.c).
SYMSXP, LISTSXP, CHARSXP, LGLSXP, INTSXP, REALSXP, STRSXP, VECSXP, EXPRSXP = 1, 2, 9, 10, 13, 14, 16, 19, 20
REFSXP, NILVALUE_SXP, ALTREP_SXP = 255, 254, 238
EMPTY_ENVS = (253, 242, 241)  # GLOBALENV, EMPTYENV, BASEENV: no contents serialized
IS_OBJECT, HAS_ATTR, HAS_TAG = 1 << 8, 1 << 9, 1 << 10
LATIN1, UTF8 = 1 << 2, 1 << 3


class RFormatError(ValueError):
    """Not an R XDR serialization this reader understands."""


def unserialize(data: bytes) -> Any:
    """The value of an R serialization in XDR ("X\\n") format, versions 2 and 3."""
    return _Reader(data).read_top()


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0
        self.refs: list[Any] = []  # symbols, in the order they were first written

    def read_top(self) -> Any:
        if self.data[:2] != b"X\n":
            raise RFormatError("not an R XDR serialization (expected 'X\\n')")
        self.pos = 2
        version = self.int32()
        if version not in (2, 3):
            raise RFormatError(f"R serialization version {version} is not supported")
        self.int32(), self.int32()  # the writer's R version, the oldest R that reads it
        if version == 3:
            self.bytes(self.int32())  # the native encoding's name
        return self.item()

    # --- primitives -------------------------------------------------------------------------------

    def bytes(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise RFormatError("R serialization ends early")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int32(self) -> int:
        return int(struct.unpack(">i", self.bytes(4))[0])

    def length(self) -> int:
        n = self.int32()
        if n == -1:  # a long vector: the length as two 32-bit halves
            hi, lo = self.int32(), self.int32()
            n = (hi << 32) + lo
        return n

    # --- items --------------------------------------------------------------------------------------

    def item(self) -> Any:
        flags = self.int32()
        kind = flags & 0xFF
        has_attr = bool(flags & HAS_ATTR)
        if kind == NILVALUE_SXP or kind in EMPTY_ENVS:
            return None
        if kind == REFSXP:
            index = flags >> 8 or self.int32()
            return self.refs[index - 1]
        if kind == SYMSXP:
            name = self.item()
            symbol = _Symbol(name if isinstance(name, str) else "")
            self.refs.append(symbol)
            return symbol
        if kind == CHARSXP:
            n = self.int32()
            if n == -1:
                return None
            raw = self.bytes(n)
            return raw.decode("latin-1" if flags >> 12 & LATIN1 else "utf-8", errors="replace")
        if kind == LISTSXP:
            return self.pairlist(flags)
        if kind in (LGLSXP, INTSXP):
            n = self.length()
            ints = struct.unpack(f">{n}i", self.bytes(4 * n))
            na = [None if v == NA_INTEGER else (bool(v) if kind == LGLSXP else v) for v in ints]
            return self.finish(na, has_attr)
        if kind == REALSXP:
            n = self.length()
            return self.finish(list(struct.unpack(f">{n}d", self.bytes(8 * n))), has_attr)
        if kind == STRSXP:
            n = self.length()
            return self.finish([self.item() for _ in range(n)], has_attr)
        if kind in (VECSXP, EXPRSXP):
            n = self.length()
            return self.finish([self.item() for _ in range(n)], has_attr)
        if kind == ALTREP_SXP:
            return self.altrep()
        raise RFormatError(f"R object type {kind} is not supported (only data: vectors and lists)")

    def pairlist(self, flags: int) -> Any:
        """A pairlist (attributes, an lazy-load index's fields) as a dict when tagged, else a list."""
        items: list[tuple[str | None, Any]] = []
        while True:
            if flags & HAS_ATTR:
                self.item()
            tag = self.item() if flags & HAS_TAG else None
            items.append((tag.name if isinstance(tag, _Symbol) else None, self.item()))
            flags = self.int32()  # the cdr: another cell, or the end
            if flags & 0xFF != LISTSXP:
                self.pos -= 4
                self.item()  # NILVALUE (or a stray value, ignored)
                break
        return _named([name for name, _ in items], [value for _, value in items])

    def finish(self, values: list[Any], has_attr: bool) -> Any:
        if not has_attr:
            return values
        attrs = self.item()
        names = attrs.get("names") if isinstance(attrs, dict) else None
        return _named(names, values) if isinstance(names, list) and len(names) == len(values) else values

    def altrep(self) -> Any:
        # R 3.5+ may write compact sequences and wrappers in their ALTREP form.
        info, state, attr = self.item(), self.item(), self.item()
        cls = info[0].name if isinstance(info, list) and info and isinstance(info[0], _Symbol) else "?"
        if cls == "compact_intseq" and isinstance(state, list) and len(state) == 3:
            n, start, step = (int(v) for v in state)
            values: Any = list(range(start, start + n * step, step))
        elif cls == "compact_realseq" and isinstance(state, list) and len(state) == 3:
            n, start, step = int(state[0]), state[1], state[2]
            values = [start + i * step for i in range(n)]
        elif cls.startswith("wrap_") and isinstance(state, list) and state:
            values = state[0]
        else:
            raise RFormatError(f"R ALTREP class {cls} is not supported")
        names = attr.get("names") if isinstance(attr, dict) else None
        return _named(names, values) if isinstance(names, list) and isinstance(values, list) else values


class _Symbol:
    def __init__(self, name: str) -> None:
        self.name = name


def _named(names: list[Any] | None, values: list[Any]) -> Any:
    if names and all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names):
        return dict(zip(names, values, strict=True))
    return values
