"""The "fast-style" family: one checkpoint format for both feed-forward kinds (the config says which)."""

from __future__ import annotations

import torch
from torch import nn

from ml.common.family import Family
from ml.families import register
from ml.fast_style.config import FastStyleConfig
from ml.fast_style.model import MultiStyleNet, TransformerNet


def build(config: FastStyleConfig) -> nn.Module:
    config.validate()
    if config.kind == "multistyle":
        return MultiStyleNet(n_styles=config.n_styles)
    return TransformerNet()


def example_input(config: FastStyleConfig) -> torch.Tensor:
    """A 16x16 ramp in the kind's pixel range (TransformerNet wants 0..255, multistyle 0..1)."""
    ramp = torch.linspace(0, 1, 16 * 16 * 3).reshape(1, 3, 16, 16)
    return ramp * 255 if config.kind == "transformer-net" else ramp


FAST_STYLE = register(Family(
    name="fast-style", config_class=FastStyleConfig, build=build, example_input=example_input,
    importer="ml.fast_style.formats:import_transformer_net",
    description="Feed-forward style transfer: Johnson TransformerNet or a blendable multi-style net",
))
