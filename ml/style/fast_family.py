"""The "fast-style" family: one checkpoint format for both feed-forward kinds (the config says which)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ml.common.checkpoint import CheckpointError, load_checkpoint
from ml.common.family import Family, config_from_dict, validate
from ml.families import register
from ml.style.fast_config import FastStyleConfig
from ml.style.multistyle import MultiStyleNet
from ml.style.transformer_net import TransformerNet


def build(config: FastStyleConfig) -> nn.Module:
    config.validate()
    if config.kind == "multistyle":
        return MultiStyleNet(n_styles=config.n_styles)
    return TransformerNet()


def example_input(config: FastStyleConfig) -> torch.Tensor:
    """A 16x16 ramp in the kind's pixel range (TransformerNet wants 0..255, multistyle 0..1)."""
    ramp = torch.linspace(0, 1, 16 * 16 * 3).reshape(1, 3, 16, 16)
    return ramp * 255 if config.kind == "transformer-net" else ramp


def import_public(path: str) -> dict[str, Any]:
    """A file in a public format -> studio checkpoint (formats.py is imported only when needed)."""
    from ml.style.fast_formats import import_transformer_net

    return import_transformer_net(path)


FAST_STYLE = register(
    Family(
        name="fast-style",
        config_class=FastStyleConfig,
        build=build,
        example_input=example_input,
        importer=import_public,
        description="Feed-forward style transfer: Johnson TransformerNet or a blendable multi-style net",
    )
)


@dataclass
class FastStyleModel:
    """A validated network ready for inference, with the config that says how to feed it."""

    config: FastStyleConfig
    net: nn.Module


def load_fast_style(
    source: dict | str | os.PathLike[str], device: torch.device | str = "cpu"
) -> FastStyleModel:
    """A studio checkpoint (dict or file) -> eval-mode model, refusing anything validate() rejects."""
    checkpoint = source if isinstance(source, dict) else load_checkpoint(source)
    if checkpoint.get("family") != FAST_STYLE.name:
        raise CheckpointError(f"not a fast-style checkpoint (family {checkpoint.get('family')!r})")
    report = validate(FAST_STYLE, checkpoint)
    if not report.ok:
        raise CheckpointError("; ".join(report.errors))
    config = config_from_dict(FAST_STYLE, checkpoint["config"])
    net = build(config)
    net.load_state_dict(checkpoint["state_dict"])
    return FastStyleModel(config=config, net=net.eval().to(device))
