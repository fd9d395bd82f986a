"""DCGAN generator configuration: travels inside every checkpoint as its "config" dict."""

from __future__ import annotations

from dataclasses import dataclass

# 64: pytorch/examples dcgan/main.py and the PyTorch DCGAN tutorial, layer for layer.
# 32: the same design one block shorter (4 -> 8 -> 16 -> 32), for small images and quick training.
IMAGE_SIZES = (32, 64)


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
