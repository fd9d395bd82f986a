"""Translating one image with a CycleGAN generator, at its own size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ml.common.images import image_to_tensor, tensor_to_image


@torch.inference_mode()
def translate(model: nn.Module, image: Image.Image, device: torch.device | str = "cpu") -> Image.Image:
    """Any-size RGB image -> translated image of the same size.

    The generator halves the sides twice and doubles them back, so sides must be multiples of 4:
    reflect-pad the bottom/right edge up to the next multiple (at least 8, so instance norm at the
    1/4-size bottleneck sees more than one pixel), then crop the output back.
    """
    model.eval()
    model.to(device)
    x = image_to_tensor(image).to(device) * 2 - 1  # (1, 3, H, W) in [-1, 1]
    h, w = x.shape[-2:]
    pad_h, pad_w = max(8, h + -h % 4) - h, max(8, w + -w % 4) - w
    # Reflection needs the pad to be smaller than the side; 1-3 px images fall back to replicate.
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)  # (1, 3, H', W'), H' and W' multiples of 4
    y = model(x)[..., :h, :w]  # (1, 3, H, W) in [-1, 1]
    return tensor_to_image((y + 1) / 2)
