"""ResnetGenerator configuration: travels inside every checkpoint as its "config" dict."""

from __future__ import annotations

from dataclasses import dataclass

NORMS = ("instance", "batch")


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
