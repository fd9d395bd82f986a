"""Drift reports: a version's captured traffic (apps/catalog/capture.py) compared with the baseline
profile of its training data (ml/common/drift.py has the statistics).

Texts only for now: sentiment versions, on the length of each text, its out-of-vocabulary rate and
the share of positive predictions. ``take_baseline`` profiles a version's training texts (the
``drift_baseline`` command, from the CSV it was trained on). ``report`` compares its newest
STUDIO_DRIFT_WINDOW captures, once at least STUDIO_DRIFT_MIN_CAPTURES are in; every worker's sweep
runs it for each version with a baseline at most every STUDIO_DRIFT_EVERY_S. A report that alarms
after one that did not (or none) is logged, mailed to the admins and POSTed to
STUDIO_DRIFT_WEBHOOK_URL when set. The reports are in the admin and in /metrics.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import mail_admins
from django.utils import timezone

from . import loading
from .models import Capture, DriftReport, ModelVersion

log = logging.getLogger(__name__)

FAMILIES = ("sentiment",)  # the families whose traffic is profiled


def _features(version: ModelVersion, texts: Sequence[str]) -> tuple[dict[str, list[float]], list[float]]:
    """The features of ``texts`` and the version's positive probabilities for them."""
    from ml.common.drift import text_features
    from ml.sentiment.data import tokenize
    from ml.sentiment.infer import load, predict_many

    model = load(loading.read_checkpoint(version))
    return text_features(texts, set(model.vocab.words), tokenize), predict_many(model, texts)


def take_baseline(version: ModelVersion, texts: Sequence[str]) -> dict[str, Any]:
    """Profile ``texts`` (the version's training texts) as its baseline, and keep it."""
    from ml.common.drift import profile

    if version.family not in FAMILIES:
        raise ValueError(f"drift profiles cover {', '.join(FAMILIES)} versions, not {version.family}")
    if not texts:
        raise ValueError("no texts to take a baseline from")
    features, positive = _features(version, texts)
    version.baseline = profile(features, positive)
    version.save(update_fields=["baseline"])
    return version.baseline


def captured(version: ModelVersion, limit: int) -> tuple[list[str], list[float]]:
    """The texts of the version's newest ``limit`` captures and the probabilities it answered."""
    rows = (Capture.objects.filter(variant__version=version, tool="sentiment")
            .order_by("-created_at").values_list("inputs", "outputs")[:limit])
    texts, probabilities = [], []
    for inputs, outputs in rows:
        text, p = inputs.get("text"), outputs.get("probability")
        if isinstance(text, str) and isinstance(p, (int, float)):
            texts.append(text)
            probabilities.append(float(p))
    return texts, probabilities


def report(version: ModelVersion) -> DriftReport | None:
    """Compare the version's newest captures with its baseline now; None without a baseline or with
    fewer than STUDIO_DRIFT_MIN_CAPTURES captures."""
    from ml.common.drift import Thresholds, compare, text_features
    from ml.sentiment.data import tokenize
    from ml.sentiment.infer import load

    if not version.baseline:
        return None
    texts, probabilities = captured(version, settings.STUDIO_DRIFT_WINDOW)
    if len(texts) < settings.STUDIO_DRIFT_MIN_CAPTURES:
        return None
    vocabulary = set(load(loading.read_checkpoint(version)).vocab.words)
    thresholds = Thresholds(psi=settings.STUDIO_DRIFT_PSI, p_value=settings.STUDIO_DRIFT_P_VALUE,
                            positive=settings.STUDIO_DRIFT_POSITIVE_SHIFT)
    result = compare(version.baseline, text_features(texts, vocabulary, tokenize), probabilities, thresholds)
    previous = version.drift_reports.first()
    figures = {"features": result["features"], "positive": result["positive"]}
    made = DriftReport.objects.create(version=version, n=result["n"], alarms=result["alarms"],
                                      figures=figures)
    if made.alarms and (previous is None or not previous.alarms):
        _alarm(made)
    return made


def _alarm(made: DriftReport) -> None:
    message = (f"{made.version.label}: its last {made.n} captured requests have drifted from its training "
               f"data: {'; '.join(made.alarms)}.")
    log.warning("drift: %s", message)
    mail_admins(f"Drift: {made.version.label}", message, fail_silently=True)
    url = settings.STUDIO_DRIFT_WEBHOOK_URL
    if url:
        body = json.dumps({"event": "drift", "version": made.version.label, "n": made.n,
                           "alarms": made.alarms, "report": made.pk}).encode()
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - an admin-set http(s) URL
                pass
        except OSError:
            log.warning("drift: the webhook %s did not take the alarm", url, exc_info=True)


def sweep() -> int:
    """Report on each version with a baseline whose last report is older than STUDIO_DRIFT_EVERY_S;
    how many reports were made."""
    due = timezone.now() - timedelta(seconds=settings.STUDIO_DRIFT_EVERY_S)
    made = 0
    for version in ModelVersion.objects.filter(family__in=FAMILIES).exclude(baseline={}):
        last = version.drift_reports.first()
        if (last is None or last.created_at < due) and report(version) is not None:
            made += 1
    return made
