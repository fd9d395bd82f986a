"""Fast-style training data: the content photos as one tensor, the random crops each step draws from
them, and the style image at the size its Gram matrices are taken.

The content set is small (by default scikit-image's ~16 sample photos), so every step draws fresh
random crops (a random square of 1x to ``ZOOM`` x the image side, scaled down, flipped half the
time), each random number from the one seeded torch.Generator the training loop passes in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ml.common.image_zip import prepare
from ml.common.training import TrainError
from ml.fast_style.config import DRY_RUN_IMAGES, DRY_RUN_SIZE, TrainConfig

ZOOM = 1.5  # photos are kept at 1.5x the image side, so random crops can also vary in scale


def photo_side(image_size: int) -> int:
    """The side photos are kept at: crops of ``image_size`` take 1x to ZOOM x of it."""
    return round(image_size * ZOOM)


def dataset(cfg: TrainConfig, content: Sequence[Image.Image]) -> torch.Tensor:
    """The photos as centred squares in one uint8 tensor (N, 3, P, P): a quarter of float32's memory."""
    if len(content) == 0:
        raise TrainError("no content photos to train on")
    if cfg.dry_run:
        content = content[:DRY_RUN_IMAGES]
    size = DRY_RUN_SIZE if cfg.dry_run else cfg.image_size
    squares = prepare(content, photo_side(size))
    arr = np.stack([np.asarray(img, dtype=np.uint8) for img in squares])  # (N, P, P, 3)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def style_image(cfg: TrainConfig, style: Image.Image) -> Image.Image:
    """The style image with its longer side at ``style_size`` (scaled up or down, shape kept)."""
    side = DRY_RUN_SIZE if cfg.dry_run else cfg.style_size
    img = style.convert("RGB")
    scale = side / max(img.size)
    size = (max(16, round(img.width * scale)), max(16, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS) if size != img.size else img


def random_crops(data: torch.Tensor, batch: int, size: int, rng: torch.Generator) -> torch.Tensor:
    """A batch (B, 3, size, size) of float 0..255 from the photos ``data`` (N, 3, P, P) uint8: each a
    square of side size..P at a random place in a photo, scaled to ``size``, flipped half the time.
    Photos are drawn without repeats while there are enough of them."""
    n, _, side, _ = data.shape
    order = torch.cat([torch.randperm(n, generator=rng) for _ in range(-(-batch // n))])[:batch]
    crops = []
    for i in order.tolist():
        c = int(torch.randint(size, side + 1, (1,), generator=rng))
        top, left = torch.randint(0, side - c + 1, (2,), generator=rng).tolist()
        crop = data[i:i + 1, :, top:top + c, left:left + c].float()
        if c != size:
            crop = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False,
                                 antialias=True)
        if bool(torch.rand(1, generator=rng) < 0.5):
            crop = crop.flip(-1)
        crops.append(crop)
    return torch.cat(crops)
