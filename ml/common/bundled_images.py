"""Photos that come with an installed package, for training without an upload: the fast-style
trainer's default content set, and small CycleGAN / test data sets.

They are the photos in scikit-image's wheel (``skimage/data/``: astronaut, cat, coffee, rocket ...),
read as plain files: finding the package does not import it, so nothing heavy loads.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PIL import Image, ImageOps

# Colour photos of everyday scenes (what a style network should learn to paint), then grey ones.
COLOUR_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                 "motorcycle_right.png", "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "color.png")
GREY_PHOTOS = ("camera.png", "coins.png", "moon.png", "page.png", "horse.png", "clock_motion.png")
PHOTOS = COLOUR_PHOTOS + GREY_PHOTOS


class BundledImagesMissing(RuntimeError):
    """The package holding the photos is not installed; the message says what to install."""


def photo_dir() -> Path:
    """The folder holding scikit-image's sample photos."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise BundledImagesMissing("the default photos come with scikit-image: pip install scikit-image")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def bundled_photos(names: tuple[str, ...] = PHOTOS, *, max_side: int | None = None) -> list[Image.Image]:
    """The named photos as RGB images (grey ones converted), optionally shrunk to ``max_side``."""
    folder = photo_dir()
    images = []
    for name in names:
        path = folder / name
        if not path.is_file():
            raise BundledImagesMissing(f"{name} is not in {folder}: reinstall scikit-image")
        with Image.open(path) as img:
            rgb = ImageOps.exif_transpose(img).convert("RGB")
        if max_side is not None and max(rgb.size) > max_side:
            rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        images.append(rgb)
    return images
