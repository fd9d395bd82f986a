"""Bench images: scikit-image photos when installed, else a synthetic scene and texture."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ml.common.images import resize_max_side


def synthetic_content(size: int) -> Image.Image:
    """Sky gradient, a sun, hills and a house: edges and flat areas, like a simple photo."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.stack([0.3 + 0.4 * yy, 0.5 + 0.3 * yy, 0.9 - 0.3 * yy], axis=-1)
    img[(xx - 0.75) ** 2 + (yy - 0.2) ** 2 < 0.01] = (1.0, 0.85, 0.2)
    hill = yy > 0.65 + 0.08 * np.sin(xx * 9)
    img[hill] = np.stack([0.2 + 0.1 * xx, 0.55 - 0.2 * yy, 0.2 + 0 * xx], -1)[hill]
    img[(xx > 0.2) & (xx < 0.45) & (yy > 0.45) & (yy < 0.7)] = (0.8, 0.3, 0.25)
    img[(xx > 0.28) & (xx < 0.36) & (yy > 0.58) & (yy < 0.7)] = (0.3, 0.2, 0.1)
    return Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))


def synthetic_style(size: int, seed: int = 0) -> Image.Image:
    """Swirly brush-stroke-like texture: summed oriented sinusoids through a colour palette."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size * 2 * np.pi
    field = np.zeros_like(xx)
    for _ in range(12):
        a, f, p = rng.uniform(0, np.pi), rng.uniform(2, 12), rng.uniform(0, 2 * np.pi)
        field += np.sin(f * (np.cos(a) * xx + np.sin(a) * yy) + p + np.sin(3 * yy))
    t = (field - field.min()) / (field.max() - field.min())
    palette = np.array([[0.05, 0.1, 0.35], [0.95, 0.8, 0.2], [0.2, 0.5, 0.8], [0.9, 0.3, 0.1]])
    idx = t * (len(palette) - 1)
    lo, frac = np.floor(idx).astype(int), (idx - np.floor(idx))[..., None]
    img = palette[lo] * (1 - frac) + palette[np.minimum(lo + 1, len(palette) - 1)] * frac
    return Image.fromarray((img * 255).astype(np.uint8))


def bench_images(size: int) -> tuple[Image.Image, Image.Image, str]:
    try:
        from skimage import data  # optional; not a project dependency

        content = Image.fromarray(data.astronaut())
        style = Image.fromarray(data.gravel()).convert("RGB")
        return resize_max_side(content, size), style, "scikit-image astronaut + gravel"
    except ImportError:
        return (
            synthetic_content(size),
            synthetic_style(size),
            "synthetic scene + texture",
        )
