"""Adding, validating, activating and retiring model versions."""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from .models import ModelPreview, ModelVersion

if TYPE_CHECKING:
    from .validation import Verdict

# torch and the validation module (which loads it) are imported where a checkpoint is read or written:
# the web process imports this module (the admin) and stays free of torch.


class CatalogError(ValueError):
    """An action the catalog refuses, with the reason in words."""


def file_digest(fileobj: IO[bytes]) -> tuple[str, int]:
    fileobj.seek(0)
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: fileobj.read(1024 * 1024), b""):
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return digest.hexdigest(), size


def next_version(family: str) -> int:
    current = ModelVersion.objects.filter(family=family).aggregate(Max("version"))["version__max"]
    return (current or 0) + 1


def fill_file_facts(version: ModelVersion) -> None:
    """sha256 and size of the stored checkpoint, and the next version number if unset."""
    with version.checkpoint.open("rb") as fh:
        version.sha256, version.size = file_digest(fh)
    if not version.version:
        version.version = next_version(version.family)


def add_version(family: str, name: str, fileobj: IO[bytes], filename: str, **fields: object) -> ModelVersion:
    with transaction.atomic():
        version = ModelVersion(family=family, name=name, version=next_version(family), **fields)
        version.checkpoint.save(filename, File(fileobj), save=False)
        fill_file_facts(version)
        version.save()
    return version


def keep_drift_baseline(version: ModelVersion, checkpoint: dict[str, Any]) -> None:
    """A training's profile of its validation data (the checkpoint's extra "drift_baseline", which
    ml/sentiment/training.py writes) as the version's drift baseline (apps/catalog/drift.py)."""
    baseline = (checkpoint.get("extra") or {}).get("drift_baseline")
    if isinstance(baseline, dict):
        version.baseline = baseline
        version.save(update_fields=["baseline"])


def add_trained(family: str, name: str, checkpoint: dict[str, Any], *, previews: Sequence[tuple[str, bytes]],
                **fields: object) -> ModelVersion:
    """What a training job made, as a draft version: validated like an upload (so an admin can
    activate it at once), with its sample pictures (label, JPEG bytes) as previews. All or nothing:
    a checkpoint that fails validation leaves no row and no file behind."""
    import torch

    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    saved: list[str] = []
    try:
        with transaction.atomic():
            version = add_version(family, name, buffer, f"{family}-trained.pt",
                                  source=ModelVersion.Source.TRAINED, **fields)
            saved.append(version.checkpoint.name or "")
            validate_version(version)
            if version.validation != ModelVersion.Validation.VALID:
                raise CatalogError(f"the trained model failed validation: {version.validation_errors}")
            keep_drift_baseline(version, checkpoint)
            for position, (label, jpeg) in enumerate(previews):
                preview = ModelPreview(version=version, label=label, position=position)
                preview.image.save(f"{position:02d}.jpg", ContentFile(jpeg), save=True)
                saved.append(preview.image.name or "")
    except Exception:
        for stored in filter(None, saved):  # the rows were rolled back; their files go too
            default_storage.delete(stored)
        raise
    return version


def validate_version(version: ModelVersion, *, isolated: bool = False) -> ModelVersion:
    """Load with weights_only, check against the family's architecture, dry-run forward; the version
    ends ``valid`` or ``invalid``, never left ``pending`` by an error (a bad file never raises here).

    A hostile pickle never runs: weights_only refuses anything but tensors and plain containers, and
    a tensor claiming more bytes than the file holds is refused before it is touched. The checks may
    use STUDIO_VALIDATION_MEMORY_BYTES plus three times the file (it is read, imported, then copied
    into the model) beyond what the process maps already; past that, allocation fails and the version
    is invalid. ``isolated`` (the Celery task, for uploads): in a fresh child process, stopped after
    most of STUDIO_VALIDATION_TIMEOUT_S, so a crash or a kill ends only the child. Otherwise in this
    process (the starters, a training job's result, tests with stand-in families).

    A file in one of the family's public formats (e.g. a junyanz ``latest_net_G.pth``) is first
    converted to a studio checkpoint, which then replaces the upload (its sha256 goes in source_ref).
    """
    from .validation import Verdict, describe

    _record_start(version)
    memory = settings.STUDIO_VALIDATION_MEMORY_BYTES + 3 * version.size
    try:
        verdict = _checked_file(version, isolated, memory)
    except Exception as exc:  # the storage, or storing the converted file: still a verdict
        verdict = Verdict(errors=[describe(exc, memory)])
    errors = verdict.errors
    version.validation = ModelVersion.Validation.INVALID if errors else ModelVersion.Validation.VALID
    version.validation_errors = "\n".join(errors)
    version.validated_at = timezone.now()
    if not errors:
        version.config = verdict.config
    version.save(update_fields=["validation", "validation_errors", "validated_at", "config"])
    return version


def _record_start(version: ModelVersion) -> None:
    """When this validation began, and one more attempt: the sweep ends a version whose validation
    began long ago and never finished (its worker killed, its machine lost)."""
    now = timezone.now()
    ModelVersion.objects.filter(pk=version.pk).update(
        validation_started_at=now, validation_attempts=F("validation_attempts") + 1)
    version.validation_started_at = now
    version.refresh_from_db(fields=["validation_attempts"])


def _checked_file(version: ModelVersion, isolated: bool, memory: int) -> Verdict:
    from .validation import check, check_isolated

    with tempfile.TemporaryDirectory() as folder:
        converted = Path(folder) / "converted.pt"
        path = _local_path(version, Path(folder))
        if isolated:
            timeout = 0.75 * settings.STUDIO_VALIDATION_TIMEOUT_S  # a verdict before the sweep's
            verdict = check_isolated(path, version.family, converted=converted, memory_bytes=memory,
                                     max_bytes=settings.STUDIO_MAX_CHECKPOINT_BYTES, timeout_s=timeout)
        else:
            verdict = check(path, version.family, converted=converted, memory_bytes=memory,
                            max_bytes=settings.STUDIO_MAX_CHECKPOINT_BYTES)
        if verdict.converted:
            _replace_file(version, converted)
    return verdict


def _local_path(version: ModelVersion, folder: Path) -> Path:
    """The version's file on this machine: where the storage keeps it, or a copy in ``folder`` named
    like it (importers name what they import after the file, e.g. a style)."""
    try:
        return Path(version.checkpoint.path)
    except NotImplementedError:  # a remote storage
        local = folder / Path(version.checkpoint.name or "upload.pth").name
        with version.checkpoint.open("rb") as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return local


def _replace_file(version: ModelVersion, converted: Path) -> None:
    old_name, old_sha = version.checkpoint.name, version.sha256
    original = Path(old_name or "upload.pth").name
    with open(converted, "rb") as fh:
        version.checkpoint.save(f"{Path(original).stem}.studio.pt", File(fh), save=False)
    fill_file_facts(version)
    version.source = ModelVersion.Source.IMPORTED
    version.source_ref = version.source_ref or f"uploaded {original} sha256:{old_sha[:16]}"
    version.save(update_fields=["checkpoint", "sha256", "size", "source", "source_ref"])
    if old_name:
        version.checkpoint.storage.delete(old_name)


def activate(version: ModelVersion) -> None:
    """Make this version the one its family serves; the previous active one is retired."""
    if version.validation != ModelVersion.Validation.VALID:
        raise CatalogError(f"{version} has not passed validation ({version.validation}).")
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(
            family=version.family, status=ModelVersion.Status.ACTIVE
        ).exclude(pk=version.pk).update(status=ModelVersion.Status.RETIRED)
        ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.ACTIVE)
    version.status = ModelVersion.Status.ACTIVE


def retire(version: ModelVersion) -> None:
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.RETIRED)
    version.status = ModelVersion.Status.RETIRED


def roll_back(family: str) -> ModelVersion:
    """Re-activate the most recent valid version before the active one."""
    active = ModelVersion.objects.filter(family=family, status=ModelVersion.Status.ACTIVE).first()
    earlier = ModelVersion.objects.filter(family=family, validation=ModelVersion.Validation.VALID)
    if active is not None:
        earlier = earlier.filter(version__lt=active.version)
    previous = earlier.order_by("-version").first()
    if previous is None:
        raise CatalogError(f"No earlier valid {family} version to roll back to.")
    activate(previous)
    return previous


def active_version(family: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(family=family, status=ModelVersion.Status.ACTIVE).first()
