"""safetensors in and out, for ml/common/checkpoint.py: how most public weights ship today.

A safetensors file is an 8-byte little-endian header length, a JSON header naming each tensor's
dtype, shape and byte range (``data_offsets``, relative to the data after the header), then the raw
bytes. Nothing in it runs code, but the header can still lie (a shape of billions over 4 bytes,
ranges past the end or on top of each other), so ``check_header`` holds it to the file before
``safetensors.torch.load`` reads a single tensor, and says what is wrong in words.

This module knows the file format only; ml/common/checkpoint.py turns a studio checkpoint into one
and back (``to_safetensors``, and ``load_any`` on a safetensors file).
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import safetensors.torch
import torch


class SafetensorsError(ValueError):
    """The file is not a readable safetensors file; the message says why in words
    (ml/common/checkpoint.py reports it as a SafetensorsError)."""


# Each dtype the format names, and its bytes per element (the format packs them, no padding).
DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2,
               "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
# safetensors' own reader refuses headers over 100 MB; a real one is a few hundred bytes per tensor.
MAX_HEADER_BYTES = 100_000_000
BROKEN = "a safetensors file with a broken header"
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
LFS_MESSAGE = "this is a Git LFS pointer, not the weights: fetch the real file with git lfs pull"


def is_lfs_pointer(head: bytes) -> bool:
    """A Git LFS pointer is a few lines of text (under 1 KB) starting with its spec's URL."""
    return head.startswith(LFS_POINTER)


def is_safetensors(head: bytes, name: str = "") -> bool:
    """By layout: 8 bytes of header length, then the header's JSON object (a torch.save zip starts
    with "PK", a legacy pickle with 0x80, so neither has "{" as its ninth byte); or by its name, so
    that a broken one says so rather than "not a PyTorch file" (unless it is a torch.save file
    misnamed, which torch then reads)."""
    if len(head) >= 9 and head[8:9] == b"{":
        return True
    return name.lower().endswith(".safetensors") and not head.startswith((b"PK", b"\x80"))


def check_header(data: bytes) -> tuple[dict[str, Any], dict[str, str]]:
    """The header's tensor entries and its ``__metadata__``, once every entry fits the file:
    known dtype, non-negative int shape, offsets in order, inside the data, not overlapping, and
    exactly numel * itemsize bytes long. SafetensorsError (``BROKEN``: why) otherwise."""
    if len(data) < 8:
        raise SafetensorsError(f"{BROKEN}: the file has only {len(data)} bytes, fewer than the "
                              "8 of the header length")
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8:
        raise SafetensorsError(f"{BROKEN}: the header length says {length:,} bytes but the file "
                              f"holds only {len(data) - 8:,} after it")
    if length > MAX_HEADER_BYTES:
        raise SafetensorsError(f"{BROKEN}: a header of {length:,} bytes (at most {MAX_HEADER_BYTES:,})")
    try:
        header = json.loads(data[8 : 8 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SafetensorsError(f"{BROKEN}: the header is not JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise SafetensorsError(f"{BROKEN}: the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError(f"{BROKEN}: __metadata__ must map text to text")
    data_bytes = len(data) - 8 - length
    spans = [(_entry(key, entry, data_bytes), key) for key, entry in header.items()]
    # In byte order, each must start where the one before it ended: no overlap, no gap, and the last
    # ends where the file does (as safetensors itself insists).
    end, previous = 0, ""
    for (start, stop), key in sorted(spans):
        if start < end:
            raise SafetensorsError(f"{BROKEN}: tensor {key!r} at bytes [{start}, {stop}] overlaps "
                                  f"tensor {previous!r}, which ends at byte {end}")
        if start > end:
            raise SafetensorsError(f"{BROKEN}: {start - end:,} bytes before tensor {key!r} belong "
                                  "to no tensor")
        end, previous = stop, key
    if end != data_bytes:
        raise SafetensorsError(f"{BROKEN}: the tensors cover {end:,} bytes but the file holds "
                              f"{data_bytes:,} after the header")
    return header, metadata


def _entry(key: str, entry: Any, data_bytes: int) -> tuple[int, int]:
    """One tensor's byte range, once its dtype, shape and offsets agree with each other and the data."""
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise SafetensorsError(f"{BROKEN}: tensor {key!r} must have exactly dtype, shape and "
                              "data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPE_SIZES:
        raise SafetensorsError(f"{BROKEN}: tensor {key!r} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_count(d) for d in shape):
        raise SafetensorsError(f"{BROKEN}: tensor {key!r} has shape {shape!r}, not a list of "
                              "non-negative integers")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_count(o) for o in offsets):
        raise SafetensorsError(f"{BROKEN}: tensor {key!r} has data_offsets {offsets!r}, not two "
                              "non-negative integers")
    start, stop = offsets
    if start > stop or stop > data_bytes:
        raise SafetensorsError(f"{BROKEN}: tensor {key!r} says offsets [{start}, {stop}] but the "
                              f"data after the header is {data_bytes:,} bytes")
    need = math.prod(shape) * DTYPE_SIZES[dtype]  # Python ints: a huge shape cannot overflow
    if stop - start != need:
        raise SafetensorsError(f"{BROKEN}: tensor {key!r} says offsets [{start}, {stop}] but its "
                              f"shape {tuple(shape)} of {dtype} needs {need:,} bytes")
    return start, stop


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read(data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of a safetensors file's bytes, its header checked first. The
    reader builds tensors from raw bytes and the header's dtypes only: nothing runs."""
    _, metadata = check_header(data)
    try:
        tensors = safetensors.torch.load(data)
    except Exception as exc:  # SafetensorError: whatever check_header did not foresee
        raise SafetensorsError(f"{BROKEN}: {str(exc).splitlines()[0][:200]}") from exc
    return tensors, metadata


def write(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """Tensors (contiguous CPU copies: safetensors stores each tensor's own bytes) and text
    metadata as a safetensors file's bytes."""
    own = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    return safetensors.torch.save(own, metadata=metadata)
