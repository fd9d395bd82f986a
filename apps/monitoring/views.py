"""/metrics for Prometheus. Open unless STUDIO_METRICS_TOKEN is set; then a scrape needs
``Authorization: Bearer <that token>`` (Prometheus: ``authorization: {credentials: ...}``)."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from .metrics import StudioCollector

_registry = CollectorRegistry(auto_describe=False)
_registry.register(StudioCollector())


@login_not_required
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.STUDIO_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse("metrics need the scrape token\n", status=401, content_type="text/plain")
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
