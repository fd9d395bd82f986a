"""Celery tasks of the API: thin, ids in."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .models import Webhook
from .webhooks import RETRY_DELAYS_S, DeliveryError, RefusedAddress, deliver


@shared_task(bind=True, name="api.deliver_webhook", max_retries=len(RETRY_DELAYS_S))
def deliver_webhook(self: Any, webhook_id: int) -> None:
    webhook = Webhook.objects.select_related("token").filter(pk=webhook_id, delivered_at__isnull=True).first()
    if webhook is None:
        return
    try:
        deliver(webhook)
    except RefusedAddress as exc:  # permanent: say why, do not retry
        Webhook.objects.filter(pk=webhook.pk).update(last_error=str(exc)[:500])
    except DeliveryError as exc:
        if self.request.retries < len(RETRY_DELAYS_S):
            raise self.retry(exc=exc, countdown=RETRY_DELAYS_S[self.request.retries]) from exc
