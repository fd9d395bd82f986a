"""A start-up warning (Django's system checks: shown by migrate, runstudio and `manage.py check`)
when /metrics would answer anyone on a site served beyond this machine."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Warning, register

LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


@register()
def open_metrics(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """/metrics is open unless STUDIO_METRICS_TOKEN is set: fine on one machine, an accident on a
    public site (job counts, queue depths, model names and GPU memory, to anyone who asks)."""
    public = [host for host in settings.ALLOWED_HOSTS if host not in LOCAL_HOSTS]
    if settings.DEBUG or settings.STUDIO_METRICS_TOKEN or not public:
        return []
    return [Warning(f"/metrics answers anyone, and the site is served to {', '.join(public)}",
                    hint="Set STUDIO_METRICS_TOKEN (Prometheus then sends it as a bearer token; "
                         "docs/monitoring.md).", id="studio.W001")]
