"""Celery tasks for the catalog: thin, ids in."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from . import capture, services
from .models import ModelVersion, Variant


@shared_task(name="catalog.validate_version")
def validate_version(version_id: int, resent: bool = False) -> None:
    """Validate an uploaded version in a child process with bounded memory and time: whatever the
    file does, the version ends valid or invalid and this worker lives on. ``resent``: the sweep sent
    it again because no validation had begun; skipped when one has since, or the version is done."""
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None:
        return
    if resent and (version.validation != ModelVersion.Validation.PENDING
                   or version.validation_started_at is not None):
        return
    services.validate_version(version, isolated=True)


def queue_validation(version: ModelVersion) -> None:
    """Send the validation task once the current transaction commits, noting when: the sweep sends it
    again if no validation has begun a while after (apps/catalog/sweep.py)."""
    ModelVersion.objects.filter(pk=version.pk).update(validation_queued_at=timezone.now())
    pk = version.pk
    transaction.on_commit(lambda: validate_version.apply_async(args=[pk], queue="cpu"))


@shared_task(name="catalog.record_invoke", ignore_result=True)
def record_invoke(variant_id: int, tool: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
    """Store an invoke's capture (apps/api/invoke.py sends it after answering); a variant deleted
    meanwhile leaves nothing to record."""
    if Variant.objects.filter(pk=variant_id).exists():
        capture.record(variant_id, "invoke", tool, inputs, outputs)

