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
from ml.fast_style.config import FastStyleConfig
from ml.fast_style.family import FAST_STYLE

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
    net = model.net.to(device)
    original = resize_max_side(image.convert("RGB"), max_side)
    x = image_to_tensor(original).to(device)  # (1, 3, H, W) in 0..1
    h, w = x.shape[-2:]
    x = _pad_to_multiple(x)
    if device.type == "cuda":  # for cuDNN's NHWC kernels; not measured on CPU, so left off there
        x = x.contiguous(memory_format=torch.channels_last)
        net = net.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        if model.config.kind == "multistyle":
            y = net(x, weights.to(device))
        else:
            y = net(x * 255.0) / 255.0
    stylized = tensor_to_image(y[..., :h, :w].float())
    return keep_colors(stylized, original) if preserve_colors else stylized
