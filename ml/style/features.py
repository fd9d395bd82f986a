"""Feature networks for style transfer: a frozen module mapping a 0..1 image to named feature maps.

Both backends speak the VGG19 layer names the Gatys/Udacity recipe uses (conv1_1 .. conv5_1,
conv4_2), normalise their own input, and are cut after the deepest layer a job asks for, so the
optimiser never pays for layers nobody reads.

"auto" picks VGG19 when real ImageNet weights are on disk, else the offline EfficientNet-Lite0.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ml.style.efficientnet_lite import (
    EfficientNetLite0,
    MBConvBlock,
    fold_batchnorm,
    lite0_weights_path,
)

# ImageNet statistics used by torchvision's VGG19.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained on inputs scaled as (x*255 - 127) / 128; checked on skimage photos:
# chelsea -> Egyptian cat 0.77, coffee -> espresso 0.90.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3

# VGG names -> EfficientNet-Lite0 taps, matched by depth and resolution (VGG conv_k_1 sits at
# 1/2^(k-1); Lite0 has nothing at full resolution, so everything is one octave coarser at the top).
# ("stem", 0) is the post-ReLU6 stem; ("expand", i) is the post-ReLU6 expansion inside block i,
# i.e. wide rectified features of the previous block's output, the analogue of VGG's post-ReLU maps.
LITE0_LAYERS: dict[str, tuple[str, int]] = {
    "conv1_1": ("stem", 0),  # 32 ch, 1/2
    "conv2_1": ("expand", 3),  # 144 ch, 1/4
    "conv3_1": ("expand", 5),  # 240 ch, 1/8
    "conv4_1": ("expand", 6),  # 480 ch, 1/16
    # Content: at 1/8 like VGG's conv4_2; the 1/16 taps kept too little of the picture.
    "conv4_2": ("expand", 4),  # 240 ch, 1/8
    "conv5_1": ("expand", 11),  # 672 ch, 1/16, deepest tap: the rest of block 11 on is cut
}


class FeatureNet(nn.Module):
    """Base: normalise inside, return {layer name: (1, C, h, w)} for the requested layers."""

    # Multiplies the content loss so Udacity's alpha/beta (1, 1e6), set for VGG19, still balance
    # content against style on another backend.
    content_gain: float = 1.0
    # Set for nets built from a catalog checkpoint: a digest of the weights, so cached style Grams
    # of two different checkpoints of the same network never mix. None: the built-in weights.
    weights_key: str | None = None
    # Buffers, registered in __init__.
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, layers: tuple[str, ...], mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.layers = tuple(layers)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def freeze(self) -> FeatureNet:
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class EfficientNetFeatures(FeatureNet):
    # ReLU6-bounded features give content losses ~1e4 times smaller than VGG's relative to the
    # style term; found by eye on skimage chelsea + gravel/brick at 160 px (1e3 lost the cat).
    content_gain = 1e4

    def __init__(self, layers: tuple[str, ...], state_dict: dict[str, torch.Tensor]) -> None:
        super().__init__(layers, LITE_MEAN, LITE_STD)
        full = EfficientNetLite0()
        full.load_state_dict(state_dict, strict=True)
        fold_batchnorm(full.eval())
        self.taps = {name: LITE0_LAYERS[name] for name in layers}
        self._conv_stem, self._bn0 = full._conv_stem, full._bn0
        expand_at = [i for kind, i in self.taps.values() if kind == "expand"]
        # Truncation: keep blocks only up to the deepest tapped expansion.
        self._blocks = nn.ModuleList(full._blocks[: max(expand_at) + 1] if expand_at else [])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        h = F.relu6(self._bn0(self._conv_stem(self.normalise(x))))  # (1, 32, H/2, W/2)
        for name, (kind, _) in self.taps.items():
            if kind == "stem":
                out[name] = h
        last = len(self._blocks) - 1
        for i, block in enumerate(cast("Iterable[MBConvBlock]", self._blocks)):
            e = block.expand(h)  # (1, C_mid, h, w)
            for name, (kind, j) in self.taps.items():
                if kind == "expand" and j == i:
                    out[name] = e
            if i == last:
                break  # the deepest tap is this expansion; the rest of the block is unused
            h = block.finish(h, e)
        return out


def build_efficientnet(layers: tuple[str, ...]) -> FeatureNet:
    from ml.common.checkpoint import load_state_dict_file

    state = load_state_dict_file(lite0_weights_path())
    return EfficientNetFeatures(layers, state).freeze()


_CACHE: dict[tuple[str, tuple[str, ...]], tuple[FeatureNet, str]] = {}
_LOCK = threading.Lock()


def load_feature_network(name: str = "auto", layers: tuple[str, ...] | None = None) -> tuple[FeatureNet, str]:
    """Return (frozen CPU feature net, resolved name); built once per process per (name, layers).

    ``layers`` defaults to all six Gatys layers. Callers move the net to their device.
    """
    from ml.style import vgg

    layers = tuple(sorted(layers or LITE0_LAYERS.keys()))
    resolved = name
    if name == "auto":
        resolved = "vgg19" if vgg.local_weights_path() is not None else "efficientnet-lite0"
    key = (resolved, layers)
    with _LOCK:
        if key not in _CACHE:
            if resolved == "vgg19":
                net: FeatureNet = vgg.build_vgg19(layers, allow_download=name == "vgg19")
            elif resolved == "efficientnet-lite0":
                net = build_efficientnet(layers)
            else:
                raise ValueError(f"unknown feature network {name!r}")
            _CACHE[key] = (net, resolved)
        return _CACHE[key]


def feature_net_from_checkpoint(
    checkpoint: dict[str, Any], layers: tuple[str, ...] | None = None
) -> tuple[FeatureNet, str]:
    """A "style-features" studio checkpoint -> (frozen CPU FeatureNet, network name), cut after the
    deepest of ``layers`` (default: all six Gatys layers). Raises CheckpointError when the
    checkpoint is of another family or its weights do not fit the network it names."""
    from ml.common.checkpoint import CheckpointError
    from ml.common.family import check_state_dict, config_from_dict
    from ml.style import vgg
    from ml.style.feature_family import STYLE_FEATURES, build

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
    if cfg.network == "vgg19":
        net: FeatureNet = vgg.VGG19Features(layers, state_dict)
    else:
        net = EfficientNetFeatures(layers, state_dict)
    net.weights_key = _digest(state_dict)
    return net.freeze(), cfg.network


def _digest(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over names and values (~0.1 s for VGG19's 80 MB of convolutions)."""
    h = hashlib.sha256()
    for key in sorted(state_dict):
        h.update(key.encode())
        h.update(state_dict[key].detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]
