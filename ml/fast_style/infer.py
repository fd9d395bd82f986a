"""A feed-forward style network from its checkpoint (``load``), and one forward pass of it on a PIL
image (``stylize_fast``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from ml.common.family import Source, as_checkpoint, config_from_dict, load_model
from ml.common.images import image_to_tensor, resize_max_side, tensor_to_image
from ml.common.inference import (
    inference_copy,
    space_to_depth_conv,
    space_to_depth_weight,
    upsampled_conv_weight,
)
from ml.fast_style.config import FastStyleConfig
from ml.fast_style.family import FAST_STYLE
from ml.fast_style.model import EPS, CondConv, MultiStyleNet

MIN_SIDE = 16  # both nets downsample by 4 and reflect-pad by 1 there: below this, pad up first


@dataclass
class FastStyleModel:
    """A validated network ready for inference, with the config that says how to feed it."""

    config: FastStyleConfig
    net: nn.Module


def load(source: Source, device: torch.device | str = "cpu", *, validate: bool = True) -> FastStyleModel:
    """A studio checkpoint (dict or file) -> eval-mode model on ``device``; with ``validate`` (the
    default) anything ``ml.common.family.validate`` rejects is refused with CheckpointError."""
    checkpoint = as_checkpoint(source)
    net = load_model(FAST_STYLE, checkpoint, nn.Module, device=device, validate=validate)
    return FastStyleModel(config=config_from_dict(FAST_STYLE, checkpoint["config"]), net=net)


def resolve_style_weights(config: FastStyleConfig, style_weights: dict[str, float] | None) -> torch.Tensor:
    """Style name -> weight mapping to a (n_styles,) vector summing to 1; ValueError says what is wrong.

    None means the first style. Weights are relative: {a: 1, b: 3} is 25 % a, 75 % b.
    """
    if style_weights is None:
        style_weights = {config.styles[0]: 1.0}
    if not style_weights:
        raise ValueError("style_weights is empty: name at least one style")
    unknown = sorted(set(style_weights) - set(config.styles))
    if unknown:
        raise ValueError(f"unknown style {', '.join(map(repr, unknown))}; known: {', '.join(config.styles)}")
    vec = torch.zeros(config.n_styles)
    for name, weight in style_weights.items():
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"style weight for {name!r} must be a finite number >= 0, got {weight}")
        vec[config.styles.index(name)] = float(weight)
    total = float(vec.sum())
    if total <= 0:
        raise ValueError("style weights are all zero: give at least one style a positive weight")
    return vec / total


def _pad_to_multiple(x: torch.Tensor, multiple: int = 4) -> torch.Tensor:
    """Pad bottom/right so H and W are multiples of ``multiple`` and at least MIN_SIDE."""
    h, w = x.shape[-2:]
    ph = max(MIN_SIDE, math.ceil(h / multiple) * multiple) - h
    pw = max(MIN_SIDE, math.ceil(w / multiple) * multiple) - w
    if not ph and not pw:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"  # reflect needs pad < size
    return F.pad(x, (0, pw, 0, ph), mode=mode)


class FusedMultiStyle(nn.Module):
    """A MultiStyleNet's function in fewer passes over memory, for inference on the CPU; built from
    the net once (``fast_net``), reading its norms' parameters live.

    - Each conditional instance norm applies its blended scale and shift inside the norm (one pass,
      not three: normalise, multiply, add), and the ReLUs, residual sums and sigmoid work in place.
    - Activations and weights are channels-last (oneDNN's NHWC kernels), except for the last two
      layers' 4 and 3 channels, where PyTorch's channels-last batch norm is several times slower.
    - The two upsampling layers convolve the map before its nearest 2x upsample, computing the four
      output phases as channels (``upsampled_conv_weight``): no upsampled copy, a quarter of the
      positions, and four times the 8 or 4 output channels that left most vector lanes idle.
    - The last 9x9 convolution (4 -> 3 channels) runs on 2x2 blocks of pixels as channels
      (``space_to_depth_conv``), for the same lanes.

    Measured in bench/image_tools.py; tests/ml/fast_style/test_infer.py holds it to the net."""

    def __init__(self, net: MultiStyleNet) -> None:
        super().__init__()
        self.net = net
        layers = [m for m in net.modules() if isinstance(m, CondConv)]
        # Buffers (not saved: the copy never is), so the model cache counts them (tensor_bytes).
        self.weights: dict[int, torch.Tensor] = {}
        for i, layer in enumerate(layers):
            weight = layer.w.detach()
            if layer in (net.expand[0], net.expand[1]):  # each runs after a nearest 2x upsample
                weight = upsampled_conv_weight(weight).contiguous(memory_format=torch.channels_last)
            elif layer is net.expand[2]:  # runs on 2x2 blocks of its NCHW input
                weight = space_to_depth_weight(weight, 2)
            else:
                weight = weight.contiguous(memory_format=torch.channels_last)
            self.register_buffer(f"w{i}", weight)
            self.weights[id(layer)] = getattr(self, f"w{i}")

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        net = self.net
        w = style_weights.to(x).reshape(-1, net.n_styles).expand(x.shape[0], -1)  # (B, S)
        y = x.contiguous(memory_format=torch.channels_last)
        for layer in net.contract:
            y = self._cond_conv(layer, y, w).relu_()
        for block in net.res:
            first, second = block.children()
            y = self._cond_conv(second, self._cond_conv(first, y, w).relu_(), w).add_(y)
        y = self._cond_conv(net.expand[0], y, w).relu_()
        y = self._cond_conv(net.expand[1], y, w, contiguous=True).relu_()
        return torch.sigmoid_(self._cond_conv(net.expand[2], y, w, contiguous=True))

    def _cond_conv(self, layer: nn.Module, x: torch.Tensor, w: torch.Tensor, *,
                   contiguous: bool = False) -> torch.Tensor:
        """CondConv's forward with the norm's affine inside: instance norm is batch norm over
        (1, B*C) with this batch's statistics, which takes a per-(image, channel) scale and shift
        directly. ``contiguous``: normalise in NCHW order (few channels)."""
        assert isinstance(layer, CondConv)
        k, weight = layer.w.shape[-1], self.weights[id(layer)]
        if layer in (self.net.expand[0], self.net.expand[1]):  # upsample, pad and conv in one
            y = F.pixel_shuffle(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), weight), 2)
        elif layer is self.net.expand[2]:
            y = space_to_depth_conv(F.pad(x, (k // 2,) * 4, mode="reflect"), weight, 2, k)
        else:
            y = F.conv2d(F.pad(x, (k // 2,) * 4, mode="reflect"), weight, stride=layer.stride)
        if contiguous:
            y = y.contiguous()
        b, c, h, width = y.shape
        gamma, beta = (w @ layer.norm.gamma).reshape(-1), (w @ layer.norm.beta).reshape(-1)  # (B*C,)
        if b == 1:  # no reshape: a reshaped channels-last map made the next reflection pad copy it twice
            return F.batch_norm(y, None, None, gamma, beta, True, 0.0, EPS)
        y = F.batch_norm(y.reshape(1, b * c, h, width), None, None, gamma, beta, True, 0.0, EPS)
        return y.reshape(b, c, h, width)


def fast_net(net: nn.Module) -> nn.Module:
    """What ``stylize_fast`` runs on the CPU: a MultiStyleNet fused as above; any other net as is."""
    return FusedMultiStyle(net) if isinstance(net, MultiStyleNet) else net


def keep_colors(stylized: Image.Image, original: Image.Image) -> Image.Image:
    """Stylized luminance with the original's chroma (Gatys et al. 2016b, "color preservation")."""
    y, _, _ = stylized.convert("YCbCr").split()
    _, cb, cr = original.resize(stylized.size, Image.Resampling.LANCZOS).convert("YCbCr").split()
    return Image.merge("YCbCr", (y, cb, cr)).convert("RGB")


def stylize_fast(
    model: FastStyleModel,
    image: Image.Image,
    *,
    style_weights: dict[str, float] | None = None,
    max_side: int = 1024,
    preserve_colors: bool = False,
    device: torch.device | str | None = None,
) -> Image.Image:
    """Stylize ``image`` (scaled down so its longer side is at most ``max_side``); same size out."""
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    weights = resolve_style_weights(model.config, style_weights)
    device = torch.device(device) if device is not None else next(model.net.parameters()).device
    net = model.net
    if next(net.parameters()).device != device:  # .to() walks every module even when it moves nothing
        net = net.to(device)
    original = resize_max_side(image.convert("RGB"), max_side)
    x = image_to_tensor(original).to(device)  # (1, 3, H, W) in 0..1
    h, w = x.shape[-2:]
    x = _pad_to_multiple(x)
    if device.type == "cuda":  # for cuDNN's NHWC kernels; on the CPU the copy lays itself out
        x = x.contiguous(memory_format=torch.channels_last)
        net = net.to(memory_format=torch.channels_last)
    net = inference_copy(net, fast_net, device)  # the net itself on CUDA; built once per net on the CPU
    with torch.inference_mode():
        if model.config.kind == "multistyle":
            y = net(x, weights.to(device))
        else:
            y = net(x * 255.0) / 255.0
    stylized = tensor_to_image(y[..., :h, :w].float())
    return keep_colors(stylized, original) if preserve_colors else stylized
