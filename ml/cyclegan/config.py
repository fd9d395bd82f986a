"""The ResnetGenerator's configuration (``CycleGANConfig``: travels inside every checkpoint as its
"config" dict), and the training settings (``TrainConfig``: travel in the training checkpoint and the
result's ``extra["train_config"]``)."""

from __future__ import annotations

from dataclasses import dataclass

from ml.common.image_zip import RESIZE_MODES
from ml.common.training import check_counts

NORMS = ("instance", "batch")
ALIGN = 4  # the generator halves the sides twice, so sides (and tile origins) are multiples of 4
MIN_SIZE = 32  # the PatchGAN's five 4x4 convs need at least this many pixels
# --dry-run: enough to run every part of the loop once or twice, in seconds to a minute on a CPU.
DRY_RUN_IMAGES, DRY_RUN_STEPS = 4, 2


@dataclass
class CycleGANConfig:
    input_nc: int = 3
    output_nc: int = 3
    ngf: int = 64
    n_blocks: int = 9  # 9 for 256 px training (the paper), 6 for 128 px
    norm: str = "instance"  # "instance" (convs carry a bias) | "batch" (convs have none)
    affine: bool = False  # InstanceNorm2d(affine=...): False in junyanz, True in vintagify
    use_dropout: bool = False  # junyanz --no_dropout is the CycleGAN default

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        for name in ("input_nc", "output_nc", "ngf", "n_blocks"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")


@dataclass
class TrainConfig:
    image_size: int = 256  # crop side the nets train on (a multiple of 4; junyanz crop_size)
    load_size: int = 0  # images are scaled to this square before cropping; 0: image_size * 286 / 256
    n_blocks: int = 9  # generator residual blocks: 9 for 256 px (the paper), 6 for 128 px
    ngf: int = 64  # generator width
    ndf: int = 64  # discriminator width
    epochs: int = 100  # at the full learning rate
    epochs_decay: int = 100  # then linearly down to 0
    batch_size: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    lambda_cycle: float = 10.0  # cycle-consistency weight, each direction (junyanz lambda_A / lambda_B)
    lambda_identity: float = 0.5  # identity loss weight, as a fraction of lambda_cycle
    pool_size: int = 50  # generated images each discriminator remembers; 0: only the latest
    flip: bool = True  # random left-right flips
    seed: int = 0
    report_every: int = 100  # steps per metrics report (averaged over those steps) and history point
    sample_every: int = 400  # steps per before/after preview; 0: only the final one
    checkpoint_every: int = 1000  # steps per training checkpoint; 0: only at the end and on cancel
    resize_mode: str = "center-crop"  # how images become squares (ml.common.image_zip.prepare_image)
    # At most DRY_RUN_IMAGES images per domain and DRY_RUN_STEPS steps per epoch, a report with a
    # preview after every step: every part of the loop runs, with the nets as configured.
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.image_size < MIN_SIZE or self.image_size % ALIGN:
            raise ValueError(f"image_size must be a multiple of {ALIGN}, at least {MIN_SIZE}, "
                             f"got {self.image_size}")
        if self.load_size == 0:
            self.load_size = round(self.image_size * 286 / 256)  # junyanz: load 286, crop 256
        if self.load_size < self.image_size:
            raise ValueError(f"load_size must be at least image_size ({self.image_size}), "
                             f"got {self.load_size}")
        check_counts(self, at_least_one=("n_blocks", "ngf", "ndf", "epochs", "batch_size", "report_every"),
                     zero_or_more=("epochs_decay", "pool_size", "sample_every", "checkpoint_every"))
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"beta1 must be in [0, 1), got {self.beta1}")
        if self.lambda_cycle < 0 or self.lambda_identity < 0:
            raise ValueError("lambda_cycle and lambda_identity must be 0 or more")
        if self.resize_mode not in RESIZE_MODES:
            modes = ", ".join(RESIZE_MODES)
            raise ValueError(f"resize_mode must be one of {modes}, got {self.resize_mode!r}")

    def generator_config(self) -> CycleGANConfig:
        return CycleGANConfig(ngf=self.ngf, n_blocks=self.n_blocks, norm="instance", affine=False,
                              use_dropout=False)
