"""Data capture: a sampled record of what each endpoint variant was asked and what it answered, the
traffic a drift report or a retraining set is built from.

Each variant has a ``capture_rate`` (0, off, by default; set in the endpoint's admin). A job that
ran on the variant is captured when it ends (apps/jobs/signals.py), with copies of its input files
under ``captures/<variant>/`` in the studio's storage (object storage when configured); an invoke is
captured by a Celery task after it has answered (apps/api/invoke.py), so the request never waits for
the write. Invoked photos are not kept, only their parameters. ``prune`` (in every worker's
periodic sweep) drops captures older than STUDIO_CAPTURE_RETENTION_DAYS and, per variant, all but
the newest STUDIO_CAPTURE_MAX_PER_VARIANT, with their files.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Count
from django.utils import timezone

from .models import Capture, Variant

log = logging.getLogger(__name__)


def sampled(rate: float, rng: random.Random | None = None) -> bool:
    """Whether this request is one of the ``rate`` share recorded."""
    return rate > 0 and (rng or random).random() < rate


def record(variant_id: int, source: str, tool: str, inputs: dict[str, Any], outputs: dict[str, Any], *,
           job_id: Any = None, files: list[tuple[str, File[Any]]] | None = None) -> Capture:
    """Store one capture; ``files`` (name, open file) are copied into the studio's storage."""
    folder = f"captures/{variant_id}/{uuid.uuid4().hex}"
    names = [default_storage.save(f"{folder}/{name}", content) for name, content in files or []]
    return Capture.objects.create(variant_id=variant_id, source=source, tool=tool, job_id=job_id,
                                  inputs=inputs, outputs=outputs, files=names)


def delete(captures: list[Capture]) -> None:
    """Remove these captures and their files (a file already gone is fine)."""
    for capture in captures:
        for name in capture.files:
            default_storage.delete(name)
    Capture.objects.filter(pk__in=[c.pk for c in captures]).delete()


def prune(now: Any = None) -> int:
    """Apply the retention limits; how many captures went."""
    now = now or timezone.now()
    oldest = now - timedelta(days=settings.STUDIO_CAPTURE_RETENTION_DAYS)
    gone = list(Capture.objects.filter(created_at__lt=oldest))
    keep = settings.STUDIO_CAPTURE_MAX_PER_VARIANT
    crowded = Variant.objects.annotate(n=Count("captures")).filter(n__gt=keep).values_list("pk", flat=True)
    for variant_id in crowded:
        gone += list(Capture.objects.filter(variant_id=variant_id).exclude(pk__in=[c.pk for c in gone])
                     .order_by("-created_at")[keep:])
    if gone:
        delete(gone)
        log.info("data capture: %d captures past the retention limits removed", len(gone))
    return len(gone)
