"""The CycleGAN family for the catalog: build a ResnetGenerator from its config; dry-run on 16x16."""

from __future__ import annotations

from typing import Any

import torch

from ml.common.family import Family
from ml.cyclegan.config import CycleGANConfig
from ml.cyclegan.model import ResnetGenerator
from ml.families import register


def build(cfg: CycleGANConfig) -> ResnetGenerator:
    return ResnetGenerator(cfg)


def example_input(cfg: CycleGANConfig) -> torch.Tensor:
    return torch.zeros(1, cfg.input_nc, 16, 16)


def import_public(path: str) -> dict[str, Any]:
    """A file in a public format -> studio checkpoint (formats.py is imported only when needed)."""
    from ml.cyclegan.formats import import_cyclegan

    return import_cyclegan(path)


FAMILY = register(
    Family(
        name="cyclegan",
        config_class=CycleGANConfig,
        build=build,
        example_input=example_input,
        importer=import_public,
        description="CycleGAN ResnetGenerator: one direction of an unpaired translation (Zhu et al. 2017)",
    )
)
