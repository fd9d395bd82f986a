"""The DCGAN generator's configuration (``DCGANConfig``: travels inside every checkpoint as its
"config" dict), and the training settings (``TrainConfig``: travel in the training checkpoint and
the result's ``extra["train_config"]``)."""

from __future__ import annotations

from dataclasses import dataclass

from ml.common.image_zip import RESIZE_MODES
from ml.common.training import check_counts

# 64: pytorch/examples dcgan/main.py and the PyTorch DCGAN tutorial, layer for layer.
# 32: the same design one block shorter (4 -> 8 -> 16 -> 32), for small images and quick training.
IMAGE_SIZES = (32, 64)
# --dry-run: enough to run every part of the loop once or twice, in seconds on a CPU.
DRY_RUN_IMAGES, DRY_RUN_BATCH, DRY_RUN_STEPS = 16, 4, 2


@dataclass
class DCGANConfig:
    nz: int = 100  # latent size; z is (N, nz, 1, 1)
    ngf: int = 64  # feature maps of the last hidden layer (the first has ngf * image_size / 8)
    nc: int = 3  # output channels
    image_size: int = 64  # side of the square output: 64 (the reference layout) or 32

    def __post_init__(self) -> None:
        if self.image_size not in IMAGE_SIZES:
            # The reference size first: catalog pages (and their tests) show this text as it was.
            raise ValueError(f"image_size must be 64 for this generator layout, got {self.image_size} "
                             "(or 32 for the small layout)")
        for name in ("nz", "ngf", "nc"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")


@dataclass
class TrainConfig:
    image_size: int = 64  # 64 (the reference layout) or 32
    nz: int = 100  # latent size
    ngf: int = 64  # generator width (feature maps of its last hidden layer)
    ndf: int = 64  # discriminator width (feature maps of its first layer)
    epochs: int = 25
    batch_size: int = 64  # lowered to the number of images when there are fewer
    lr: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    report_every: int = 10  # steps per metrics report (averaged over those steps) and history point
    sample_every: int = 200  # steps per preview grid; 0: only the final one
    checkpoint_every: int = 500  # steps per training checkpoint; 0: only at the end and on cancel
    resize_mode: str = "center-crop"  # how images become squares (ml.common.image_zip.prepare_image)
    # DRY_RUN_IMAGES images, batch DRY_RUN_BATCH, DRY_RUN_STEPS steps per epoch, and a report with a
    # preview after every step: every part of the loop runs, in seconds.
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {self.image_size}")
        check_counts(self, at_least_one=("nz", "ngf", "ndf", "epochs", "batch_size", "report_every"),
                     zero_or_more=("sample_every", "checkpoint_every"))
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1}")
        if self.resize_mode not in RESIZE_MODES:
            modes = ", ".join(RESIZE_MODES)
            raise ValueError(f"resize_mode must be one of {modes}, got {self.resize_mode!r}")

    def generator_config(self) -> DCGANConfig:
        return DCGANConfig(nz=self.nz, ngf=self.ngf, nc=3, image_size=self.image_size)
