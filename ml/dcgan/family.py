"""The DCGAN family for the catalog: build a generator from its config; dry-run on one latent."""

from __future__ import annotations

import torch

from ml.common.family import Family
from ml.dcgan.config import DCGANConfig
from ml.dcgan.model import Generator
from ml.families import register


def example_input(cfg: DCGANConfig) -> torch.Tensor:
    return torch.zeros(1, cfg.nz, 1, 1)


FAMILY = register(Family(
    name="dcgan", config_class=DCGANConfig, build=Generator, example_input=example_input,
    importer="ml.dcgan.formats:import_dcgan",
    description="DCGAN generator: 64x64 images from a Gaussian latent (Radford et al. 2016)",
))
