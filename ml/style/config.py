"""Settings for one optimisation-based style transfer job (Gatys et al. 2016)."""

from __future__ import annotations

from dataclasses import dataclass, field

OPTIMIZERS = ("lbfgs", "adam")
NETWORKS = ("auto", "vgg19", "efficientnet-lite0")
INITS = ("content", "noise")
LAYER_NAMES = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "conv5_1")


def udacity_style_weights() -> dict[str, float]:
    """Per-layer style weights from the Udacity style-transfer notebook (earlier layers count more)."""
    return {
        "conv1_1": 1.0,
        "conv2_1": 0.75,
        "conv3_1": 0.2,
        "conv4_1": 0.2,
        "conv5_1": 0.2,
    }


@dataclass
class StyleConfig:
    steps: int = 300  # objective evaluations across all scales (an L-BFGS closure call is one)
    max_side: int = 384  # longest side of the output, in pixels
    optimizer: str = "lbfgs"
    lr: float = 0.02  # Adam only, in 0..1 pixel space (Udacity's 0.003 is in ImageNet-normalised space)
    content_weight: float = 1.0  # alpha
    style_weight: float = 1e6  # beta
    tv_weight: float = 0.0
    style_layer_weights: dict[str, float] = field(default_factory=udacity_style_weights)
    content_layer: str = "conv4_2"
    init: str = "content"
    seed: int = 0
    preview_every: int = 20
    network: str = "auto"
    # Coarse-to-fine: solve at half size first (a quarter of the cost per step), then refine.
    scales: tuple[float, ...] = (0.5, 1.0)

    def validate(self) -> None:
        """Raise ValueError naming the first out-of-range setting."""
        if not 1 <= self.steps <= 5000:
            raise ValueError(f"steps must be between 1 and 5000, got {self.steps}")
        if not 64 <= self.max_side <= 2048:
            raise ValueError(f"max_side must be between 64 and 2048 pixels, got {self.max_side}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {self.network!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        if not 0 < self.lr <= 10:
            raise ValueError(f"lr must be in (0, 10], got {self.lr}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.style_layer_weights:
            raise ValueError("style_layer_weights must name at least one layer")
        for layer, w in self.style_layer_weights.items():
            if layer not in LAYER_NAMES:
                raise ValueError(f"unknown style layer {layer!r}; known: {', '.join(LAYER_NAMES)}")
            if w < 0:
                raise ValueError(f"style layer weight for {layer} must be >= 0, got {w}")
        if self.content_layer not in LAYER_NAMES:
            raise ValueError(f"unknown content layer {self.content_layer!r}")
        if self.preview_every < 1:
            raise ValueError(f"preview_every must be >= 1, got {self.preview_every}")
        if not self.scales or any(not 0.05 <= s <= 1.0 for s in self.scales):
            raise ValueError(f"scales must be fractions in [0.05, 1.0], got {self.scales}")
        if list(self.scales) != sorted(self.scales) or self.scales[-1] != 1.0:
            raise ValueError(f"scales must increase and end at 1.0, got {self.scales}")
        if self.steps < len(self.scales):
            raise ValueError(f"steps ({self.steps}) must be at least the number of scales")
