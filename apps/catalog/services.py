"""Adding, validating, activating and retiring model versions."""

from __future__ import annotations

import hashlib
from typing import IO

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ml.common.checkpoint import CheckpointError, load_checkpoint
from ml.common.family import validate
from ml.families import get_family

from .models import ModelVersion


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


def validate_version(version: ModelVersion) -> ModelVersion:
    """Load with weights_only, check against the family's architecture, dry-run forward.

    A hostile pickle never runs: weights_only refuses anything but tensors and plain containers.
    """
    errors: list[str] = []
    config: dict = {}
    try:
        with version.checkpoint.open("rb") as fh:
            checkpoint = load_checkpoint(fh, max_bytes=settings.STUDIO_MAX_CHECKPOINT_BYTES)
        if checkpoint.get("family") != version.family:
            errors.append(f"checkpoint is for family {checkpoint.get('family')!r}, "
                          f"not {version.family!r}")
        else:
            report = validate(get_family(version.family), checkpoint)
            errors.extend(report.errors)
            config = checkpoint.get("config") or {}
    except CheckpointError as exc:
        errors.append(str(exc))
    except KeyError as exc:
        errors.append(str(exc.args[0]) if exc.args else "unknown model family")
    version.validation = ModelVersion.Validation.INVALID if errors else ModelVersion.Validation.VALID
    version.validation_errors = "\n".join(errors)
    version.validated_at = timezone.now()
    if not errors:
        version.config = config
    version.save(update_fields=["validation", "validation_errors", "validated_at", "config"])
    return version


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
