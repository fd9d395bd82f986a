"""Versions whose validation was lost: none may stay ``pending`` for good.

Validation runs in a Celery worker (apps/catalog/tasks.py). If that worker is killed (out of memory)
or its machine lost, the version would wait forever; so would one whose task message was lost.
``end_stale_validations`` is called periodically by every worker: a version pending long after its
validation began ends ``invalid`` with the reason, and one whose validation never began gets its
task sent again. Every change is a conditional UPDATE, so two workers sweeping at once never both
act on one version: the second's UPDATE no longer matches the row.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import ModelVersion
from .tasks import validate_version

logger = logging.getLogger(__name__)


def stale_message(timeout_s: float) -> str:
    return (f"validation did not finish within {timeout_s:g} s: the worker may have run out of memory "
            "or been lost; upload it again or ask an admin to re-validate")


def end_stale_validations(now: datetime | None = None) -> int:
    """Make ``invalid`` every version still pending STUDIO_VALIDATION_TIMEOUT_S after its validation
    began, and send the task again for those pending that long after it was sent (or, never sent,
    after they were added) with no validation begun. Returns how many versions it made invalid."""
    now = now or timezone.now()
    timeout = settings.STUDIO_VALIDATION_TIMEOUT_S
    cutoff = now - timedelta(seconds=timeout)
    pending = ModelVersion.objects.filter(validation=ModelVersion.Validation.PENDING)
    ended = 0
    # Read first, then one conditional UPDATE per version: another sweeper may act in between.
    for pk in list(pending.filter(validation_started_at__lt=cutoff).values_list("pk", flat=True)):
        if end_stale(pk, cutoff, now, stale_message(timeout)):
            logger.warning("model version %s: validation lost; marked invalid", pk)
            ended += 1
    lost = pending.filter(validation_started_at=None).annotate(
        last_sent=Coalesce("validation_queued_at", "created_at", output_field=DateTimeField()),
    ).filter(last_sent__lt=cutoff)
    for pk, queued_at in list(lost.values_list("pk", "validation_queued_at")):
        if claim_resend(pk, queued_at, now):
            logger.warning("model version %s: no validation began; task sent again", pk)
            transaction.on_commit(partial(validate_version.apply_async, args=[pk], kwargs={"resent": True},
                                          queue="cpu"))
    return ended


def end_stale(pk: int, cutoff: datetime, now: datetime, message: str) -> bool:
    """Mark the version invalid if it is still pending with a validation begun before ``cutoff``
    (not finished meanwhile, nor begun again); True for the one sweeper whose UPDATE matched."""
    return bool(ModelVersion.objects.filter(
        pk=pk, validation=ModelVersion.Validation.PENDING, validation_started_at__lt=cutoff,
    ).update(validation=ModelVersion.Validation.INVALID, validation_errors=message, validated_at=now))


def claim_resend(pk: int, queued_at: datetime | None, now: datetime) -> bool:
    """Move the version's queued time from ``queued_at`` (what the sweeper read) to ``now`` if it is
    still pending with no validation begun; True for the one sweeper that then sends the task."""
    return bool(ModelVersion.objects.filter(
        pk=pk, validation=ModelVersion.Validation.PENDING, validation_started_at=None,
        validation_queued_at=queued_at,
    ).update(validation_queued_at=now))
