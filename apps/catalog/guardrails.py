"""Guardrails for an endpoint's A/B test: a variant that does clearly worse than the control is taken
out of rotation without waiting for a person.

After every job a variant serves ends (apps/jobs/signals.py calls ``check``), its newest
``guard_min_jobs`` finished jobs are compared with the control's newest as many (the variant marked
control, else the one serving the family's active version): an error rate above the control's by more than
``guard_error_margin``, or a p95 latency (submit to end) above ``guard_latency_factor`` times the
control's, sets the variant's weight to 0. The trip is recorded (GuardrailTrip, shown on the
endpoint's admin page), logged, and mailed to the site's ADMINS. Its jobs from before the trip no
longer count: a variant put back gets a fresh window. Synchronous invokes are not judged here (their
counters in Redis hold no errors), but they follow the weights, so they stop too.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.core.mail import mail_admins
from django.db import transaction
from django.db.models import F, Max

from .models import GuardrailTrip, ModelVersion, Variant
from .variant_metrics import percentile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """A variant's newest finished jobs: how many, how many failed, and their p95 in seconds."""

    jobs: int
    failed: int
    p95: float | None

    @property
    def error_rate(self) -> float:
        return self.failed / self.jobs if self.jobs else 0.0


def window(variant: Variant, size: int, since: datetime | None = None) -> Window:
    """``variant``'s newest ``size`` finished jobs (created after ``since``, when given)."""
    jobs = variant.jobs.filter(state__in=("succeeded", "failed"))
    if since is not None:
        jobs = jobs.filter(created_at__gt=since)
    rows = list(jobs.annotate(latency=F("finished_at") - F("created_at"))
                .order_by("-created_at").values_list("state", "latency")[:size])
    latencies = sorted(lat.total_seconds() for _, lat in rows if lat is not None)
    return Window(len(rows), sum(state == "failed" for state, _ in rows), percentile(latencies, 0.95))


def verdict(mine: Window, control: Window, min_jobs: int, error_margin: float,
            latency_factor: float) -> str | None:
    """Why a variant with ``mine`` should lose its traffic against ``control``, or None."""
    if mine.jobs < min_jobs:
        return None  # too few to judge
    if mine.error_rate - control.error_rate > error_margin:
        return (f"error rate {mine.error_rate:.0%} against the control's {control.error_rate:.0%} over "
                f"the last {mine.jobs} jobs (margin {error_margin:.0%})")
    if latency_factor > 0 and control.jobs >= min_jobs and mine.p95 is not None and control.p95 \
            and mine.p95 > latency_factor * control.p95:
        return (f"p95 latency {mine.p95:.2f} s against the control's {control.p95:.2f} s over the last "
                f"{mine.jobs} jobs (limit {latency_factor:g}x)")
    return None


def check(variant_id: int) -> GuardrailTrip | None:
    """Judge one variant now; take it out and return the trip if it fails. The variant's row is
    locked while judging, so two workers finishing its jobs at once trip it once."""
    with transaction.atomic():
        variant = Variant.objects.select_for_update().select_related("endpoint", "version").get(pk=variant_id)
        endpoint = variant.endpoint
        if variant.weight == 0 or variant.control or not endpoint.guard_min_jobs:
            return None
        size = endpoint.guard_min_jobs
        mine = window(variant, size, since=variant.trips.aggregate(last=Max("at"))["last"])
        if mine.jobs < size:  # too few to judge: no need to look at the control (most job ends)
            return None
        control = (endpoint.variants.filter(control=True).first()
                   or endpoint.variants.filter(version__status=ModelVersion.Status.ACTIVE).first())
        if control is None or control.pk == variant.pk:
            return None
        theirs = window(control, size)
        reason = verdict(mine, theirs, size, endpoint.guard_error_margin, endpoint.guard_latency_factor)
        if reason is None:
            return None
        weight, variant.weight = variant.weight, 0
        variant.save(update_fields=["weight"])
        figures: dict[str, Any] = {"variant": asdict(mine), "control": asdict(theirs), "weight": weight}
        trip = GuardrailTrip.objects.create(variant=variant, reason=reason, figures=figures)
    message = (f"{endpoint.family}/{variant.name} ({variant.version.label}) was taken out of rotation "
               f"(weight {weight} -> 0): {reason}. Control: {control.name}.")
    log.warning("guardrail: %s", message)
    mail_admins(f"Guardrail: {endpoint.family}/{variant.name} taken out", message, fail_silently=True)
    return trip
