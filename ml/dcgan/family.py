"""The DCGAN family for the catalog: build a generator from its config; dry-run on one latent."""

from __future__ import annotations

from typing import Any

import torch

from ml.common.family import Family
from ml.dcgan.config import DCGANConfig
from ml.dcgan.model import Generator
from ml.families import register


def build(cfg: DCGANConfig) -> Generator:
    return Generator(cfg)


def example_input(cfg: DCGANConfig) -> torch.Tensor:
    return torch.zeros(1, cfg.nz, 1, 1)


def import_public(path: str) -> dict[str, Any]:
    """A file in a public format -> studio checkpoint (formats.py is imported only when needed)."""
    from ml.dcgan.formats import import_dcgan

    return import_dcgan(path)


FAMILY = register(
    Family(
        name="dcgan",
        config_class=DCGANConfig,
        build=build,
        example_input=example_input,
        importer=import_public,
        description="DCGAN generator: 64x64 images from a Gaussian latent (Radford et al. 2016)",
    )
)
