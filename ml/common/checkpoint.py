"""The one checkpoint helper for all of ml/: config travels with the weights, loading runs no code.

Files are ``torch.save`` of a plain dict, read back with ``weights_only=True`` so a hostile file
cannot execute anything: the restricted unpickler only builds tensors and plain containers.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import zipfile
from dataclasses import asdict, is_dataclass
from typing import IO, Any

import torch

FORMAT = "studio-checkpoint"
VERSION = 1
REQUIRED_KEYS = ("format", "version", "family", "config", "state_dict")
DEFAULT_MAX_BYTES = 2_000_000_000

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


def _safe_torch_load(src: PathOrFile, max_bytes: int) -> Any:
    """torch.load with weights_only=True; every failure becomes a CheckpointError."""
    _check_archive(src, _check_size(src, max_bytes))
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
        if any(marker in text for marker in _CORRUPT_ERRORS):
            raise CheckpointError("not a checkpoint: file is truncated or corrupt") from exc
        raise CheckpointError(f"not a checkpoint: {text.splitlines()[0][:200]}") from exc
    except Exception as exc:  # legacy-format parser on arbitrary bytes: KeyError, TypeError, ...
        raise CheckpointError("not a checkpoint: not a PyTorch file") from exc


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
