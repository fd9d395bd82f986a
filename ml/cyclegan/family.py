"""The CycleGAN family for the catalog: build a ResnetGenerator from its config; dry-run on 16x16."""

from __future__ import annotations

import torch

from ml.common.family import Family
from ml.cyclegan.config import CycleGANConfig
from ml.cyclegan.model import ResnetGenerator
from ml.families import register


def example_input(cfg: CycleGANConfig) -> torch.Tensor:
    return torch.zeros(1, cfg.input_nc, 16, 16)


FAMILY = register(Family(
    name="cyclegan", config_class=CycleGANConfig, build=ResnetGenerator, example_input=example_input,
    importer="ml.cyclegan.formats:import_cyclegan",
    description="CycleGAN ResnetGenerator: one direction of an unpaired translation (Zhu et al. 2017)",
))
