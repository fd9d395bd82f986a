"""The starter CycleGAN: modern -> vintage photo generator shipped in PyPI vintagify 0.1.2 (MIT).

``vintagify/resources/G_A2B_epoch33.pth`` is a plain state_dict of a 9-block ResnetGenerator with
InstanceNorm affine=True, trained at 512 px; the effect is mild (warmer, faded, softer contrast).
The package itself is never imported (it needs matplotlib); only its file is located.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def find_vintagify_weights() -> Path | None:
    """Path of the installed G_A2B_epoch33.pth, or None; never imports the package nor touches the network."""
    spec = importlib.util.find_spec("vintagify")  # finds a top-level package without running it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "resources" / "G_A2B_epoch33.pth"
        if path.is_file():
            return path
    return None
