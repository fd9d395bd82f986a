"""The start-up warning for an open /metrics: only on a site served beyond this machine, with DEBUG
off and no STUDIO_METRICS_TOKEN; Django's own check run reports it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks

from apps.monitoring.checks import open_metrics


def test_a_public_site_with_open_metrics_is_warned_at_start_up(settings: Any) -> None:
    settings.DEBUG, settings.STUDIO_METRICS_TOKEN = False, ""
    settings.ALLOWED_HOSTS = ["127.0.0.1", "studio.example.org"]
    [warning] = open_metrics()
    assert warning.id == "studio.W001"
    assert warning.msg == "/metrics answers anyone, and the site is served to studio.example.org"
    assert warning.hint.startswith("Set STUDIO_METRICS_TOKEN")
    assert "studio.W001" in [m.id for m in checks.run_checks()]


@pytest.mark.parametrize("change", [{"STUDIO_METRICS_TOKEN": "s3cret"}, {"DEBUG": True},
                                    {"ALLOWED_HOSTS": ["127.0.0.1", "localhost", "[::1]"]}])
def test_a_token_debug_or_a_local_site_is_not_warned(settings: Any, change: dict[str, Any]) -> None:
    settings.DEBUG, settings.STUDIO_METRICS_TOKEN = False, ""
    settings.ALLOWED_HOSTS = ["studio.example.org"]
    for name, value in change.items():
        setattr(settings, name, value)
    assert open_metrics() == []
