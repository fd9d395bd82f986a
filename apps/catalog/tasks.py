"""Celery tasks for the catalog: thin, ids in."""

from celery import shared_task

from . import services
from .models import ModelVersion


@shared_task(name="catalog.validate_version")
def validate_version(version_id: int) -> None:
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is not None:
        services.validate_version(version)
