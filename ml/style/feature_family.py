"""The "style-features" family: the ImageNet network Gatys style transfer reads its features from,
kept in the catalog like any other model so the studio can choose which one its jobs use.

The checkpoint holds the whole network in its public key names (lukemelas EfficientNet names for
efficientnet-lite0, torchvision ``features.N`` for vgg19); ml/style/features.py cuts it down to the
layers a job reads when it builds the frozen FeatureNet (``feature_net_from_checkpoint``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ml.common.family import Family
from ml.families import register
from ml.style.efficientnet_lite import EfficientNetLite0

NETWORKS = ("efficientnet-lite0", "vgg19")


@dataclass
class StyleFeaturesConfig:
    network: str = "efficientnet-lite0"

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {self.network!r}")


class VGG19Convs(nn.Module):
    """torchvision's vgg19 ``features`` alone, under the same ``features.N`` keys. The classifier
    (120 M parameters, ~470 MB) is left out: style transfer never reads it."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        self.features = make_layers(cfgs["E"], batch_norm=False)  # what vgg19() builds as .features

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, H, W) -> (N, 512, H/32, W/32)
        out: torch.Tensor = self.features(x)
        return out


def build(cfg: StyleFeaturesConfig) -> nn.Module:
    return VGG19Convs() if cfg.network == "vgg19" else EfficientNetLite0()


def example_input(cfg: StyleFeaturesConfig) -> torch.Tensor:
    """A 32x32 ramp in 0..1 (32 px survives VGG's five poolings and Lite0's stride 32)."""
    return torch.linspace(0, 1, 3 * 32 * 32).reshape(1, 3, 32, 32)


def import_public(path: str) -> dict[str, Any]:
    """A file in a public format -> studio checkpoint (formats.py is imported only when needed)."""
    from ml.style.feature_formats import import_feature_network

    return import_feature_network(path)


STYLE_FEATURES = register(
    Family(
        name="style-features",
        config_class=StyleFeaturesConfig,
        build=build,
        example_input=example_input,
        importer=import_public,
        description="Feature network for Gatys style transfer: EfficientNet-Lite0 or VGG19 (ImageNet)",
    )
)
