"""CycleGAN training data: each domain's images as one tensor, the per-step crops and flips, the
image pool, and the run's plan (batch size and steps, from the sets' sizes).

The pool is the history buffer of Shrivastava et al. 2017 that junyanz's util/image_pool.py keeps:
the discriminators learn from earlier generators' fakes too, not only the latest. Augmentation
works on tensors, with every random number drawn from the one seeded torch.Generator the training
loop passes in, so a resumed run crops, flips and pools exactly as an uninterrupted one
(ml/cyclegan/training.py saves that generator's state and both pools in its checkpoint).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ml.common.image_zip import prepare
from ml.common.training import TrainError
from ml.cyclegan.config import DRY_RUN_STEPS, TrainConfig

FEW_IMAGES = 100  # per domain; the paper's sets have about a thousand


class ImagePool:
    """junyanz util/image_pool.py (Shrivastava et al. 2017): the discriminator sees generated images
    from a history, not only the latest generator's, which damps oscillation (paper section 4).

    The first ``size`` images go in and come straight back. After that each new image, with
    probability 0.5, takes the place of a random stored one and the stored one is returned instead;
    otherwise the new one is returned and the pool is left as it is.
    """

    def __init__(self, size: int, images: Sequence[torch.Tensor] = ()) -> None:
        self.size = size
        self.images = list(images)  # each (1, C, H, W), detached

    def query(self, images: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach().split(1):
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif float(torch.rand((), generator=rng)) > 0.5:
                i = int(torch.randint(0, self.size, (), generator=rng))
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out)

    def state(self) -> torch.Tensor:  # (N, C, H, W) on the CPU; (0,) when empty
        return torch.cat(self.images).cpu() if self.images else torch.zeros(0)


def load_domain(images: Sequence[Image.Image], load_size: int, resize_mode: str, domain: str,
                limit: int | None = None) -> torch.Tensor:
    """One domain's images (the first ``limit`` when given) as a uint8 tensor (N, 3, L, L),
    L = ``load_size``: a quarter of float32's memory. Raises TrainError when there are none."""
    if len(images) == 0:
        raise TrainError(f"no images in domain {domain} to train on")
    if limit is not None and len(images) > limit:
        images = images[:limit]
    squares = prepare(images, load_size, resize_mode)
    arr = np.stack([np.asarray(img, dtype=np.uint8) for img in squares])  # (N, L, L, 3)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def augment(images: torch.Tensor, size: int, flip: bool, rng: torch.Generator) -> torch.Tensor:
    """(N, 3, L, L) uint8 -> (N, 3, size, size) float in [-1, 1] (the generators' range): a random
    ``size`` crop of each image, mirrored left-right with probability 0.5 when ``flip`` (junyanz
    resize_and_crop + flip), drawn from ``rng`` so that a resumed run crops as an uninterrupted one."""
    n, _, h, w = images.shape
    tops = torch.randint(0, h - size + 1, (n,), generator=rng)
    lefts = torch.randint(0, w - size + 1, (n,), generator=rng)
    flips = torch.rand(n, generator=rng) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    crops = []
    for image, top, left, mirror in zip(images, tops.tolist(), lefts.tolist(), flips.tolist(), strict=True):
        crop = image[:, top:top + size, left:left + size]
        crops.append(crop.flip(-1) if mirror else crop)
    return torch.stack(crops).float() / 127.5 - 1.0


def center_crops(data: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 3, L, L) uint8 -> centre ``size`` crops in [-1, 1]: the preview's fixed images, which
    draw no random numbers."""
    offset = (data.shape[-1] - size) // 2
    crops = data[:, :, offset:offset + size, offset:offset + size]
    return crops.float() / 127.5 - 1.0


def fingerprint(*sets: torch.Tensor) -> str:
    """A short hash of the prepared image sets' shapes and pixels: a resume must see the same data."""
    digest = hashlib.sha256()
    for data in sets:
        digest.update(str(tuple(data.shape)).encode())
        digest.update(data.numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Plan:
    """What the run does, once the images are known."""

    images_a: int
    images_b: int
    batch_size: int
    steps_per_epoch: int
    total_steps: int
    fingerprint: str  # of both prepared sets: a resume must see the same data
    report_every: int
    sample_every: int


def plan_run(cfg: TrainConfig, data_a: torch.Tensor, data_b: torch.Tensor, notes: list[str]) -> Plan:
    """The run's batch size and steps, from the sets' sizes; adjustments and advice go to ``notes``."""
    n_a, n_b = len(data_a), len(data_b)
    epoch_size = max(n_a, n_b)  # junyanz UnalignedDataset: the larger set sets an epoch's length
    batch = cfg.batch_size
    if epoch_size < batch:
        notes.append(f"only {epoch_size} images in the larger set: batch size {batch} lowered to "
                     f"{epoch_size}")
        batch = epoch_size
    # Partial last batches are kept (as junyanz's loader does): instance norm works per image.
    steps = math.ceil(epoch_size / batch)
    if cfg.dry_run:
        steps = min(steps, DRY_RUN_STEPS)
        notes.append(f"dry run: {n_a} + {n_b} images (A + B), batch {batch}, {steps} steps per epoch")
    else:
        for domain, n in (("A", n_a), ("B", n_b)):
            if n < FEW_IMAGES:
                notes.append(f"only {n} images in domain {domain}: CycleGAN needs hundreds per domain "
                             f"to learn more than these pictures")
    return Plan(images_a=n_a, images_b=n_b, batch_size=batch, steps_per_epoch=steps,
                total_steps=steps * (cfg.epochs + cfg.epochs_decay), fingerprint=fingerprint(data_a, data_b),
                report_every=1 if cfg.dry_run else cfg.report_every,
                sample_every=1 if cfg.dry_run else cfg.sample_every)
