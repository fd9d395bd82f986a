"""Webhooks: a job submitted through the API with a ``webhook`` URL gets a POST there when it ends.

The body is JSON: ``{"event": "job.finished", "job": <the job as GET /api/jobs/{id} returns it>}``.
It is signed with the submitting token's webhook secret (shown in the account page):
``X-Studio-Signature: sha256=<hex HMAC-SHA256 of the raw body>``; check it before trusting the body.
A delivery that fails (no answer in 10 s, or a status other than 2xx) is retried with growing
pauses (30 s, 1, 2, 4, 8 min), then given up; the job's webhook row says how it went.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.utils import timezone

from apps.jobs.models import Job

from .models import Webhook
from .schemas import job_out

TIMEOUT_S = 10
RETRY_DELAYS_S = (30, 60, 120, 240, 480)


class DeliveryError(Exception):
    """The receiver did not take the webhook; worth trying again later."""


class RefusedAddress(ValueError):
    """The webhook points into this machine's own networks; never retried."""


def check_address(url: str, *, resolve: bool) -> None:
    """RefusedAddress when ``url``'s host is (or, with ``resolve``, resolves to) a loopback,
    private, link-local or otherwise internal address: a webhook must not let an API user make the
    server call its own network (SSRF). STUDIO_WEBHOOK_ALLOW_PRIVATE=1 allows it (a receiver on the
    same LAN)."""
    if settings.STUDIO_WEBHOOK_ALLOW_PRIVATE:
        return
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if not resolve:
            return  # a name: checked when it is delivered, against what it resolves to then
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError as exc:
            raise DeliveryError(f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        if not address.is_global:
            raise RefusedAddress(f"{host} is an internal address ({address}); webhooks go to public "
                                 "addresses only (STUDIO_WEBHOOK_ALLOW_PRIVATE=1 allows others)")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(webhook: Webhook) -> int:
    """POST the job's final state once; the receiver's status. DeliveryError when it failed."""
    check_address(webhook.url, resolve=True)
    job = Job.objects.get(pk=webhook.job_id)
    body = json.dumps({"event": "job.finished", "job": job_out(job)}, default=str).encode()
    request = urllib.request.Request(webhook.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "gan-style-studio-webhook",
        "X-Studio-Event": "job.finished", "X-Studio-Delivery": f"{job.pk}:{webhook.attempts + 1}",
        "X-Studio-Signature": sign(webhook.token.webhook_secret, body)})
    Webhook.objects.filter(pk=webhook.pk).update(attempts=webhook.attempts + 1)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        Webhook.objects.filter(pk=webhook.pk).update(last_error=str(exc)[:500])
        raise DeliveryError(str(exc)) from exc
    Webhook.objects.filter(pk=webhook.pk).update(last_status=status)
    if not 200 <= status < 300:
        Webhook.objects.filter(pk=webhook.pk).update(last_error=f"HTTP {status}")
        raise DeliveryError(f"HTTP {status}")
    Webhook.objects.filter(pk=webhook.pk).update(delivered_at=timezone.now(), last_error="")
    return status

