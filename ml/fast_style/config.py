"""Settings of a feed-forward style network (``FastStyleConfig``: which architecture, and the styles it
knows; travels inside every checkpoint as its "config" dict), and of training one (``TrainConfig``:
travels in the training checkpoint and the result's ``extra["train_config"]``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ml.common.training import check_counts

KINDS = ("transformer-net", "multistyle")
# --dry-run: tiny images and two steps with a report and a preview each, in seconds on a CPU.
DRY_RUN_SIZE, DRY_RUN_IMAGES, DRY_RUN_BATCH, DRY_RUN_STEPS = 32, 4, 2, 2


@dataclass
class FastStyleConfig:
    # "transformer-net": Johnson et al. 2016, one style, pixels 0..255 in and out.
    # "multistyle": Dumoulin et al. 2017 conditional instance norm, n_styles blendable, 0..1.
    kind: str = "transformer-net"
    styles: list[str] = field(default_factory=lambda: ["style"])
    n_styles: int = 1

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistent setting."""
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.n_styles < 1:
            raise ValueError(f"n_styles must be >= 1, got {self.n_styles}")
        if self.kind == "transformer-net" and self.n_styles != 1:
            raise ValueError(f"a transformer-net holds exactly one style, got n_styles={self.n_styles}")
        if len(self.styles) != self.n_styles:
            raise ValueError(f"styles names {len(self.styles)} styles but n_styles is {self.n_styles}")
        if len(set(self.styles)) != len(self.styles) or not all(self.styles):
            raise ValueError("style names must be unique and non-empty")


@dataclass
class TrainConfig:
    style_name: str = "style"  # the style's name in the result's FastStyleConfig
    image_size: int = 256  # side of the training crops (a multiple of 4)
    style_size: int = 256  # longer side of the style image when its Grams are taken
    steps: int = 2000
    batch_size: int = 4
    lr: float = 1e-3
    # Relative errors (module docstring). Set on EfficientNet-Lite0 with a bold painted style at 128 px
    # (docs/fast-style-trained.jpg): style 5 left only strokes after 250 steps, 3 lost much of the
    # photo by 600, 1 showed little style by 200; tv 1 keeps the stroke texture but not pixel noise.
    content_weight: float = 1.0
    style_weight: float = 2.0
    tv_weight: float = 1.0
    seed: int = 0
    report_every: int = 10  # steps per metrics report (averaged over those steps) and history point
    sample_every: int = 100  # steps per before/after preview; 0: only the final one
    checkpoint_every: int = 200  # steps per training checkpoint; 0: only at the end and on cancel
    # DRY_RUN_SIZE px, at most DRY_RUN_IMAGES photos, batch DRY_RUN_BATCH, DRY_RUN_STEPS steps, and
    # a report with a preview after every step: every part of the loop runs, in seconds.
    dry_run: bool = False

    def __post_init__(self) -> None:
        FastStyleConfig(styles=[self.style_name]).validate()  # a name the result's config accepts
        if self.image_size < 16 or self.image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4 and at least 16, got {self.image_size}")
        check_counts(self, at_least_one=("style_size", "steps", "batch_size", "report_every"),
                     zero_or_more=("sample_every", "checkpoint_every",
                                   "content_weight", "style_weight", "tv_weight"))
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    def model_config(self) -> FastStyleConfig:
        return FastStyleConfig(kind="transformer-net", styles=[self.style_name], n_styles=1)
