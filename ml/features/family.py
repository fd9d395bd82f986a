"""The "style-features" family: the ImageNet network Gatys style transfer reads its features from,
kept in the catalog like any other model so the studio can choose which one its jobs use.

The checkpoint holds the whole network in its public key names (lukemelas EfficientNet names for
efficientnet-lite0, torchvision ``features.N`` for vgg19); ml/features/infer.py cuts it down to the
layers a job reads when it builds the frozen FeatureNet (``load``).
"""

from __future__ import annotations

import torch

from ml.common.family import Family
from ml.families import register
from ml.features.config import StyleFeaturesConfig
from ml.features.model import build


def example_input(cfg: StyleFeaturesConfig) -> torch.Tensor:
    """A 32x32 ramp in 0..1 (32 px survives VGG's five poolings and Lite0's stride 32)."""
    return torch.linspace(0, 1, 3 * 32 * 32).reshape(1, 3, 32, 32)


STYLE_FEATURES = register(Family(
    name="style-features", config_class=StyleFeaturesConfig, build=build, example_input=example_input,
    importer="ml.features.formats:import_feature_network",
    description="Feature network for Gatys style transfer: EfficientNet-Lite0 or VGG19 (ImageNet)",
))
