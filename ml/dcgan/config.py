"""DCGAN generator configuration: travels inside every checkpoint as its "config" dict."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DCGANConfig:
    nz: int = 100  # latent size; z is (N, nz, 1, 1)
    ngf: int = 64  # feature maps of the last hidden layer (the first has ngf * 8)
    nc: int = 3  # output channels
    image_size: int = 64  # the pytorch/examples layout only makes 64x64

    def __post_init__(self) -> None:
        if self.image_size != 64:
            raise ValueError(f"image_size must be 64 for this generator layout, got {self.image_size}")
        for name in ("nz", "ngf", "nc"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive")
