"""What the API does when a job ends: queue its webhook (connected in apps.py)."""

from __future__ import annotations

from typing import Any

from .models import Webhook
from .tasks import deliver_webhook


def on_job_finished(sender: Any, job_id: Any, state: str, **kwargs: Any) -> None:
    """A job ended: queue its webhook, if it has one."""
    pending = Webhook.objects.filter(job_id=job_id, delivered_at__isnull=True).values_list("pk", flat=True)
    for webhook_id in pending:
        deliver_webhook.apply_async(args=[webhook_id], queue="cpu")
