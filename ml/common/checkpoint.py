"""The one checkpoint helper for all of ml/: config travels with the weights, loading runs no code.

Files are ``torch.save`` of a plain dict, read back with ``weights_only=True`` so a hostile file
cannot execute anything: the restricted unpickler only builds tensors and plain containers. Then,
before any value is touched, ``check_tensors`` holds every tensor to the bytes the file really
stores for it, so a small file cannot make a later copy allocate gigabytes. safetensors files are
read too (ml/common/safetensors_io.py, header checked first); a Git LFS pointer is named as one.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import re
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, is_dataclass
from typing import IO, Any

import torch

from ml.common import safetensors_io

FORMAT = "studio-checkpoint"
VERSION = 1
REQUIRED_KEYS = ("format", "version", "family", "config", "state_dict")
DEFAULT_MAX_BYTES = 2_000_000_000
# Views of the same bytes may each claim them (tied weights: an embedding and the output layer), but
# all tensors together claiming more than this many times the file is views repeated to amplify it.
MAX_ALIASING = 4
HOSTILE = "a malformed or hostile checkpoint"

PathOrFile = str | os.PathLike[str] | IO[bytes]


class CheckpointError(ValueError):
    """A checkpoint file could not be used; the message says why in plain words."""


def save_checkpoint(
    path: str | os.PathLike[str] | IO[bytes],
    *,
    family: str,
    config: Any,
    state_dict: dict[str, torch.Tensor],
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``{format, version, family, config, state_dict, extra}``; config is a dataclass."""
    payload = checkpoint_dict(family=family, config=config, state_dict=state_dict, extra=extra)
    torch.save(payload, path)


def checkpoint_dict(
    *,
    family: str,
    config: Any,
    state_dict: dict[str, torch.Tensor],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The studio checkpoint as a dict: what ``save_checkpoint`` writes and ``load_checkpoint``
    returns. Importers of public formats build theirs with this."""
    if not is_dataclass(config) or isinstance(config, type):
        raise TypeError("config must be a dataclass instance")
    return {
        "format": FORMAT,
        "version": VERSION,
        "family": family,
        "config": asdict(config),
        # Detached CPU copies so the file never depends on the device it was trained on.
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in state_dict.items()},
        "extra": dict(extra or {}),
    }


def _check_size(src: PathOrFile, max_bytes: int) -> int:
    if isinstance(src, (str, os.PathLike)):
        try:
            size = os.path.getsize(src)
        except OSError as exc:
            raise CheckpointError(f"cannot read checkpoint: {exc.strerror or exc}") from exc
    else:
        pos = src.tell()
        size = src.seek(0, io.SEEK_END) - pos
        src.seek(pos)
    if size > max_bytes:
        raise CheckpointError(f"checkpoint too large: {size:,} bytes (limit {max_bytes:,})")
    if size == 0:
        raise CheckpointError("checkpoint is empty")
    return size


def _check_archive(src: PathOrFile, size: int) -> None:
    """Before torch reads a zip: it must be one torch.save could have written, and unpack to no more
    than the file holds. torch.save stores records uncompressed, but torch.load inflates compressed
    ones into memory, so without this a 2 MB file can make it allocate 2 GB."""
    try:
        if isinstance(src, (str, os.PathLike)):
            with open(src, "rb") as fh:
                records = _zip_records(fh)
        else:
            pos = src.tell()
            try:
                records = _zip_records(src)
            finally:
                src.seek(pos)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise CheckpointError("not a checkpoint: file is truncated or corrupt") from exc
    if records is None:
        return  # not a zip: torch.load reads it as the legacy format, with its own checks
    if not any(name.count("/") == 1 and name.endswith("/data.pkl") for name in records):
        raise CheckpointError("not a checkpoint: a zip archive, but not a PyTorch file (no data.pkl)")
    claimed = sum(records.values())
    if claimed > size:
        raise CheckpointError(f"refused: the file claims {claimed:,} bytes of data but holds only "
                              f"{size:,} (compressed records; torch.save never writes those)")


def _zip_records(fh: IO[bytes]) -> dict[str, int] | None:
    """Name and unpacked size of each record, from the zip's directory; None if not a zip (torch.load
    decides the same way, by the first four bytes)."""
    if fh.read(4) != b"PK\x03\x04":
        return None
    fh.seek(-4, io.SEEK_CUR)
    with zipfile.ZipFile(fh) as archive:
        return {info.filename: info.file_size for info in archive.infolist()}


# torch's own refusals of a tensor that claims more bytes than the file holds (it checks before it
# allocates); reworded, since their text reads like an internal error.
_RECORD_SIZE = re.compile(r"record size \((\d+) bytes\) does not match expected size \((\d+) bytes")
_CLAIM_ERRORS = ("storage has wrong byte size", "Trying to resize storage that is not resizable")
_CORRUPT_ERRORS = ("zip archive", "central directory", "PytorchStreamReader", "unexpected EOF")
_NEGATIVE_OFFSET = re.compile(r"invalid storage offset (-\d+)")
_STRIDE_ERRORS = ("Storage size calculation overflowed",)


def _safe_torch_load(src: PathOrFile, max_bytes: int) -> Any:
    """torch.load with weights_only=True, then ``check_tensors``; every failure a CheckpointError."""
    size = _check_size(src, max_bytes)
    head = _read(src, 64)
    if safetensors_io.is_lfs_pointer(head):
        # Its text would otherwise reach the unpickler and read as "code/objects".
        raise CheckpointError(safetensors_io.LFS_MESSAGE)
    name = os.fspath(src) if isinstance(src, (str, os.PathLike)) else str(getattr(src, "name", ""))
    if safetensors_io.is_safetensors(head, name):
        obj = _from_safetensors(_read(src, size))
    else:
        _check_archive(src, size)
        obj = _torch_load(src)
    check_tensors(obj, size)
    return obj


def _read(src: PathOrFile, count: int) -> bytes:
    """Up to ``count`` bytes from the start (a file object: from where it stands, left there)."""
    try:
        if isinstance(src, (str, os.PathLike)):
            with open(src, "rb") as fh:
                return fh.read(count)
        pos = src.tell()
        try:
            return src.read(count)
        finally:
            src.seek(pos)
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint: {exc.strerror or exc}") from exc


def _torch_load(src: PathOrFile) -> Any:
    try:
        return torch.load(src, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses any global outside its allowlist: this is where payloads end up.
        raise CheckpointError("refused: contains code/objects that are not plain tensors") from exc
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        # A cut-off zip shows up as a failed seek or a short read, depending on where it was cut.
        raise CheckpointError("not a checkpoint: file is truncated or corrupt") from exc
    except RuntimeError as exc:
        text = str(exc)
        if claim := _RECORD_SIZE.search(text):
            raise CheckpointError(f"refused: the file claims {int(claim[2]):,} bytes for a tensor "
                                  f"but holds only {int(claim[1]):,}") from exc
        if any(marker in text for marker in _CLAIM_ERRORS):
            raise CheckpointError("refused: a tensor claims more bytes than the file holds for it") from exc
        if offset := _NEGATIVE_OFFSET.search(text):
            raise CheckpointError(f"refused: a tensor starts at storage offset {offset[1]}, before its "
                                  f"data: {HOSTILE}") from exc
        if any(marker in text for marker in _STRIDE_ERRORS):
            raise CheckpointError(f"refused: a tensor's strides are negative or overflow: {HOSTILE}") from exc
        if any(marker in text for marker in _CORRUPT_ERRORS):
            raise CheckpointError("not a checkpoint: file is truncated or corrupt") from exc
        raise CheckpointError(f"not a checkpoint: {text.splitlines()[0][:200]}") from exc
    except Exception as exc:  # legacy-format parser on arbitrary bytes: KeyError, TypeError, ...
        raise CheckpointError("not a checkpoint: not a PyTorch file") from exc


def check_tensors(obj: Any, file_size: int) -> None:
    """Every tensor in ``obj`` (dicts, lists, tuples, sets, at any depth: state_dict, extra, optimizer
    state) must be a dense CPU tensor whose sizes, strides and offset stay inside its storage, which
    is what the file really holds for it; CheckpointError naming the first that does not.

    weights_only builds any view that fits its storage as torch sees it: a stride-0 view of 4 bytes
    may claim shape (1000000, 512, 4, 4), and the first copy of it (contiguous, isfinite, an
    importer) allocates 32 GB. Only metadata is read here, so it costs microseconds per tensor."""
    claimed = 0
    for key, tensor in _tensors(obj):
        claimed += _check_tensor(key, tensor)
    if claimed > MAX_ALIASING * file_size:
        raise CheckpointError(f"refused: the tensors claim {claimed:,} bytes in all, over {MAX_ALIASING} "
                              f"times the {file_size:,} bytes of the file (views of the same bytes, "
                              f"repeated): {HOSTILE}")


def _check_tensor(key: str, t: torch.Tensor) -> int:
    """The bytes ``t`` claims, once checked against its storage (see ``check_tensors``)."""
    # Sparse, nested and meta tensors carry a shape with no bytes behind it (a sparse (1e6, 1e6) of
    # one value, a meta tensor of any size): the studio's families never save them.
    if t.layout != torch.strided or t.is_nested:
        raise CheckpointError(f"tensor {key!r} is not a plain dense tensor (layout {t.layout}): {HOSTILE}")
    if t.device.type != "cpu":
        raise CheckpointError(f"tensor {key!r} is a {t.device.type!r} tensor with no data in the file: "
                              f"{HOSTILE}")
    try:
        stored = t.untyped_storage().nbytes()
    except (RuntimeError, NotImplementedError) as exc:
        raise CheckpointError(f"tensor {key!r} has no storage to read: {HOSTILE}") from exc
    shape, strides, offset, size = tuple(t.shape), t.stride(), t.storage_offset(), t.element_size()
    claim = math.prod(shape) * size  # Python ints: a hostile shape cannot overflow the product
    if claim > stored:
        raise CheckpointError(f"tensor {key!r} claims {claim:,} bytes (shape {shape}) but the file "
                              f"stores only {stored:,} bytes for it: {HOSTILE}")
    # A zero stride repeats one value along a dimension and a negative one walks backwards: torch.save
    # never writes either for weights (an expanded size-1 dimension, stride 0, is harmless).
    for dim, (length, stride) in enumerate(zip(shape, strides, strict=True)):
        if length > 1 and stride <= 0:
            raise CheckpointError(f"tensor {key!r} has stride {stride} in dimension {dim} (of size "
                                  f"{length}): {HOSTILE}")
    if offset < 0:
        raise CheckpointError(f"tensor {key!r} starts at storage offset {offset}, before its data: "
                              f"{HOSTILE}")
    if claim:
        end = (offset + sum((length - 1) * stride for length, stride in zip(shape, strides, strict=True))
               + 1) * size
        if end > stored:
            raise CheckpointError(f"tensor {key!r} reaches byte {end:,} of its storage (offset {offset}, "
                                  f"shape {shape}, strides {strides}) but the file stores only "
                                  f"{stored:,} bytes for it: {HOSTILE}")
    return claim


def _tensors(obj: Any) -> Iterator[tuple[str, torch.Tensor]]:
    """Each distinct tensor in ``obj`` with its key path ("state_dict.main.0.weight",
    "extra.optimizer.state.0.exp_avg"), in file order. Iterative, and each object once: the
    unpickler can build containers nested deeper than Python's recursion limit, or cycles."""
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        path, value = stack.pop()
        if id(value) in seen:
            continue
        if isinstance(value, torch.Tensor):
            seen.add(id(value))
            yield path or "(the file itself)", value
            # A Parameter rebuilt with state carries attributes, which could hide tensors.
            children: list[tuple[Any, Any]] = list(getattr(value, "__dict__", {}).items())
        elif isinstance(value, dict):
            seen.add(id(value))
            # Keys are hashable, so they may be tensors too (or tuples of them).
            children = [item for i, (k, v) in enumerate(value.items())
                        for item in ((k, v), (f"<key {i}>", k))]
        elif isinstance(value, (list, tuple, set, frozenset)):
            seen.add(id(value))
            children = list(enumerate(value))
        else:
            continue
        for key, child in reversed(children):
            if isinstance(child, (torch.Tensor, dict, list, tuple, set, frozenset)):
                stack.append((f"{path}.{key}" if path else str(key), child))


def load_any(path_or_fileobj: PathOrFile, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Whatever a public .pth holds (plain state_dict, wrapped dicts), loaded as safely as ours:
    weights_only, size-checked, every failure a CheckpointError. Importers unwrap the result."""
    return _safe_torch_load(path_or_fileobj, max_bytes)


def load_checkpoint(path_or_fileobj: PathOrFile, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict:
    """Load and validate a file written by ``save_checkpoint``; raise CheckpointError otherwise."""
    obj = _safe_torch_load(path_or_fileobj, max_bytes)
    if not is_studio_checkpoint(obj):
        raise CheckpointError("not a studio checkpoint (no 'format: studio-checkpoint' marker)")
    return _checked(obj)


def is_studio_checkpoint(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def as_family_checkpoint(obj: Any, family: str) -> dict | None:
    """For importers: if ``obj`` (from ``load_any``) is already a studio checkpoint, check it as
    ``load_checkpoint`` would and that it belongs to ``family``; None if it is something else."""
    if not is_studio_checkpoint(obj):
        return None
    if obj.get("family") != family:
        raise CheckpointError(f"studio checkpoint of family {obj.get('family')!r}, not {family!r}")
    return _checked(obj)


def _checked(obj: dict) -> dict:
    missing = [k for k in REQUIRED_KEYS if k not in obj]
    if missing:
        raise CheckpointError(f"checkpoint is missing keys: {', '.join(missing)}")
    if obj["version"] != VERSION:
        raise CheckpointError(f"unsupported checkpoint version {obj['version']!r}")
    if not isinstance(obj["state_dict"], dict) or not isinstance(obj["config"], dict):
        raise CheckpointError("checkpoint 'state_dict' and 'config' must be dicts")
    obj.setdefault("extra", {})
    return obj


def load_state_dict_file(path: PathOrFile, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, torch.Tensor]:
    """Load a public plain state_dict (e.g. torchvision weights) with the same safety checks."""
    obj = _safe_torch_load(path, max_bytes)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]  # some publishers wrap the weights one level down
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError("not a state_dict: expected a mapping of names to tensors")
    return dict(obj)


def _from_safetensors(data: bytes) -> Any:
    """What ``load_any`` returns for a safetensors file. A studio export: the checkpoint dict it
    came from. Otherwise the public layout the families' importers read from a .pth: the tensors
    (a plain state_dict), or, with metadata, ``{**metadata, "state_dict": tensors}`` (the Udacity
    char-RNN keeps n_hidden, n_layers and tokens beside its weights)."""
    try:
        tensors, metadata = safetensors_io.read(data)
    except safetensors_io.SafetensorsError as exc:
        raise CheckpointError(str(exc)) from exc
    if metadata.get("format") == FORMAT:
        try:
            return {"format": FORMAT, "version": int(metadata.get("version", "")),
                    "family": metadata.get("family", ""), "config": json.loads(metadata["config"]),
                    "state_dict": tensors, "extra": json.loads(metadata.get("extra") or "{}")}
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"a studio safetensors export with unreadable metadata "
                                  f"(version, config, extra): {exc}") from exc
    if not metadata or set(metadata) <= {"format"}:  # Hugging Face writes {"format": "pt"}
        return tensors
    return {**metadata, "state_dict": tensors}


def to_safetensors(checkpoint: dict[str, Any]) -> bytes:
    """A studio checkpoint dict as safetensors bytes: the state_dict's tensors, the rest as
    metadata (``load_any`` reads it back as the same dict). Entries of ``extra`` that are not plain
    JSON (an optimizer's state) are left out: they do not fit a text header, and nothing needs them
    to run the model."""
    extra = {}
    for key, value in (checkpoint.get("extra") or {}).items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        extra[key] = value
    metadata = {"format": FORMAT, "version": str(checkpoint.get("version", VERSION)),
                "family": str(checkpoint["family"]), "config": json.dumps(checkpoint["config"]),
                "extra": json.dumps(extra)}
    return safetensors_io.write(checkpoint["state_dict"], metadata)
