"""DCGAN training data: the images as one tensor of squares, and the run's plan (batch size and steps
per epoch, from how many images there are)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ml.common.image_zip import prepare
from ml.common.training import TrainError
from ml.dcgan.config import DRY_RUN_BATCH, DRY_RUN_IMAGES, DRY_RUN_STEPS, TrainConfig

FEW_IMAGES = 100  # below this a GAN mostly learns to copy its training images; say so


@dataclass(frozen=True)
class Plan:
    """What the run does, once the images are known."""

    images: int
    batch_size: int
    steps_per_epoch: int
    total_steps: int
    fingerprint: str  # of the prepared images: a resume must see the same data
    report_every: int
    sample_every: int


def dataset(cfg: TrainConfig, images: Sequence[Image.Image]) -> torch.Tensor:
    """The images as one uint8 tensor (N, 3, S, S): a quarter of float32's memory."""
    if len(images) == 0:
        raise TrainError("no images to train on")
    if cfg.dry_run and len(images) > DRY_RUN_IMAGES:
        images = images[:DRY_RUN_IMAGES]
    squares = prepare(images, cfg.image_size, cfg.resize_mode)
    arr = np.stack([np.asarray(img, dtype=np.uint8) for img in squares])  # (N, S, S, 3)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def plan_run(cfg: TrainConfig, data: torch.Tensor, notes: list[str]) -> Plan:
    """The run's batch size and steps, from the number of images; adjustments and advice go to
    ``notes``."""
    n = len(data)
    batch = min(cfg.batch_size, DRY_RUN_BATCH) if cfg.dry_run else cfg.batch_size
    if n < batch:
        notes.append(f"only {n} images: batch size {batch} lowered to {n}")
        batch = n
    # Whole batches only (the last partial one is dropped, as the shuffle moves on each epoch):
    # batch-norm statistics from a batch of 1 or 2 would be mostly noise.
    steps = n // batch
    if cfg.dry_run:
        steps = min(steps, DRY_RUN_STEPS)
        notes.append(f"dry run: {n} images, batch {batch}, {steps} steps per epoch")
    elif n < FEW_IMAGES:
        notes.append(f"only {n} images: a GAN needs hundreds to learn more than copies of them")
    digest = hashlib.sha256(data.numpy().tobytes()).hexdigest()[:16]
    return Plan(images=n, batch_size=batch, steps_per_epoch=steps, total_steps=steps * cfg.epochs,
                fingerprint=digest, report_every=1 if cfg.dry_run else cfg.report_every,
                sample_every=1 if cfg.dry_run else cfg.sample_every)
