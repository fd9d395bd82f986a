"""Feature networks ready for style transfer: a catalog checkpoint (``load``) or the built-in public
weights (``load_feature_network``) -> a frozen FeatureNet cut after the deepest layer a job reads.

"auto" picks VGG19 when real ImageNet weights are on disk, else the offline EfficientNet-Lite0.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import torch
from torch import nn

from ml.common.checkpoint import CheckpointError
from ml.common.family import Source, as_checkpoint, check_state_dict, config_from_dict, load_model
from ml.features.family import STYLE_FEATURES
from ml.features.formats import (
    import_efficientnet_lite0,
    import_torchvision_vgg19,
    local_weights_path,
    vgg19_weights_path,
)
from ml.features.model import (
    LITE0_LAYERS,
    VGG19,
    EfficientNetFeatures,
    EfficientNetLite0,
    FeatureNet,
    VGG19Features,
    build,
)


def load(source: Source, layers: tuple[str, ...] | None = None, *,
         device: torch.device | str = "cpu") -> tuple[FeatureNet, str]:
    """A "style-features" studio checkpoint (dict or file) -> (frozen FeatureNet on ``device``,
    network name), cut after the deepest of ``layers`` (default: all six Gatys layers). Raises
    CheckpointError when the checkpoint is of another family or its weights do not fit the network
    it names."""
    checkpoint = as_checkpoint(source)
    if checkpoint.get("family") != STYLE_FEATURES.name:
        raise CheckpointError(f"not a style-features checkpoint (family {checkpoint.get('family')!r})")
    layers = tuple(sorted(layers or LITE0_LAYERS.keys()))
    unknown = [n for n in layers if n not in LITE0_LAYERS]
    if unknown:
        raise ValueError(f"unknown feature layers {', '.join(unknown)}; known: {', '.join(LITE0_LAYERS)}")
    try:
        cfg = config_from_dict(STYLE_FEATURES, checkpoint.get("config") or {})
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"bad style-features config: {exc}") from exc
    state_dict = checkpoint["state_dict"]
    with torch.device("meta"):  # names and shapes only
        errors = check_state_dict(build(cfg), state_dict)
    if errors:
        raise CheckpointError(f"weights do not fit {cfg.network}: " + "; ".join(errors))
    # Checked just above the way feature networks always were: no dry-run forward of the classifier.
    full = load_model(STYLE_FEATURES, checkpoint, nn.Module, validate=False)
    net = _cut(full, cfg.network, layers)
    net.weights_key = _digest(state_dict)
    return net.to(device), cfg.network


def _cut(full: nn.Module, network: str, layers: tuple[str, ...]) -> FeatureNet:
    """The frozen FeatureNet of the whole network ``full`` (which it takes over)."""
    if network == "vgg19":
        assert isinstance(full, VGG19)
        net: FeatureNet = VGG19Features(layers, full)
    else:
        assert isinstance(full, EfficientNetLite0)
        net = EfficientNetFeatures(layers, full)
    return net.freeze()


_CACHE: dict[tuple[str, tuple[str, ...]], tuple[FeatureNet, str]] = {}
_LOCK = threading.Lock()


def load_feature_network(name: str = "auto", layers: tuple[str, ...] | None = None) -> tuple[FeatureNet, str]:
    """Return (frozen CPU feature net, resolved name) from the built-in public weights; built once
    per process per (name, layers).

    ``layers`` defaults to all six Gatys layers. Callers move the net to their device.
    """
    layers = tuple(sorted(layers or LITE0_LAYERS.keys()))
    resolved = name
    if name == "auto":
        resolved = "vgg19" if local_weights_path() is not None else "efficientnet-lite0"
    key = (resolved, layers)
    with _LOCK:
        if key not in _CACHE:
            if resolved == "vgg19":
                checkpoint = import_torchvision_vgg19(vgg19_weights_path(allow_download=name == "vgg19"))
            elif resolved == "efficientnet-lite0":
                checkpoint = import_efficientnet_lite0()
            else:
                raise ValueError(f"unknown feature network {name!r}")
            full = load_model(STYLE_FEATURES, checkpoint, nn.Module, validate=False)
            _CACHE[key] = (_cut(full, resolved, layers), resolved)
        return _CACHE[key]


def _digest(state_dict: dict[str, Any]) -> str:
    """sha256 over names and values (~0.1 s for VGG19's 80 MB of convolutions)."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        h.update(key.encode())
        h.update(state_dict[key].detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]
