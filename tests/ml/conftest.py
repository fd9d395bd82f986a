"""Small synthetic images for ml tests: no files from the internet, nothing larger than needed."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image


def encode(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def gradient_image(size: tuple[int, int] = (80, 64)) -> Image.Image:
    """A content-like picture: smooth gradients plus a bright disc and a dark bar."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = xx / w
    g = yy / h
    b = 0.5 + 0.5 * np.sin(xx / 7.0)
    disc = ((xx - w * 0.6) ** 2 + (yy - h * 0.4) ** 2) < (min(w, h) * 0.2) ** 2
    arr = np.stack([r, g, b], axis=-1)
    arr[disc] = (1.0, 0.95, 0.3)
    arr[int(h * 0.7) : int(h * 0.8), : w // 2] = 0.05
    return Image.fromarray((arr * 255).astype(np.uint8))


def texture_image(size: tuple[int, int] = (64, 64), seed: int = 1) -> Image.Image:
    """A style-like picture: diagonal stripes with colour noise."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = ((xx + yy) // 4) % 2
    arr = np.where(stripes[..., None] == 1, [0.9, 0.2, 0.1], [0.1, 0.3, 0.8])
    arr = np.clip(arr + rng.normal(0, 0.08, size=(h, w, 3)), 0, 1)
    return Image.fromarray((arr * 255).astype(np.uint8))


@pytest.fixture
def content_img() -> Image.Image:
    return gradient_image()


@pytest.fixture
def style_img() -> Image.Image:
    return texture_image()
