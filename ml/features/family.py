"""The "style-features" family: the ImageNet network Gatys style transfer reads its features from,
kept in the catalog like any other model so the studio can choose which one its jobs use.

The checkpoint holds the whole network in its public key names (lukemelas EfficientNet names for
efficientnet-lite0, torchvision ``features.N`` for vgg19); ml/features/infer.py cuts it down to the
layers a job reads when it builds the frozen FeatureNet (``load``).
"""

from __future__ import annotations

from typing import Any

import torch

from ml.common.family import Family
from ml.families import register
from ml.features.config import StyleFeaturesConfig
from ml.features.model import build


def example_input(cfg: StyleFeaturesConfig) -> torch.Tensor:
    """A 32x32 ramp in 0..1 (32 px survives VGG's five poolings and Lite0's stride 32)."""
    return torch.linspace(0, 1, 3 * 32 * 32).reshape(1, 3, 32, 32)


def import_public(path: str) -> dict[str, Any]:
    """A file in a public format -> studio checkpoint (formats.py is imported only when needed)."""
    from ml.features.formats import import_feature_network

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
