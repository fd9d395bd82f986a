"""Sampling from a DCGAN generator: z ~ N(0, 1), batch norm in eval mode, images in [0, 1]."""

from __future__ import annotations

import torch
from PIL import Image
from torchvision.utils import make_grid

from ml.common.images import tensor_to_image
from ml.dcgan.model import Generator


@torch.inference_mode()
def sample(model: Generator, n: int, seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` images (n, nc, 64, 64) in [0, 1] on the CPU; the same seed gives the same images.

    z is drawn on the CPU from its own seeded generator, so the images do not depend on the device
    or on anything else that used the global RNG.
    """
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.nz, 1, 1, generator=gen)  # (n, nz, 1, 1)
    model.eval()  # batch norm uses its running statistics, not this batch's
    model.to(device)
    out = model(z.to(device))  # (n, nc, 64, 64) in [-1, 1]
    return ((out + 1) / 2).clamp(0, 1).cpu()


def grid(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> Image.Image:
    """(N, 3, H, W) in [0, 1] -> one PIL image, ``nrow`` images per row."""
    return tensor_to_image(make_grid(images, nrow=nrow, padding=padding))
