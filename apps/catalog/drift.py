"""Drift reports: a version's captured traffic (apps/catalog/capture.py) compared with the baseline
profile of its training data (ml/common/drift.py has the statistics).

Sentiment versions are profiled on the length of each text, its out-of-vocabulary rate and the share
of positive predictions; fast style and CycleGAN versions on their input photos' size, brightness,
contrast and saturation (from the copies a job's capture keeps; invoked photos are not kept).
A sentiment training leaves its version a baseline (its validation texts); ``take_baseline`` takes
one from given texts or photos (``manage.py drift baseline``). ``report`` compares its newest
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
from django.core.files.storage import default_storage
from django.core.mail import mail_admins
from django.db.models import QuerySet
from django.utils import timezone
from PIL import Image

from . import loading
from .models import Capture, DriftReport, ModelVersion

log = logging.getLogger(__name__)

# The families profiled; each one's traffic is the captures of the tool of the same name.
TEXT_FAMILIES = ("sentiment",)
IMAGE_FAMILIES = ("fast-style", "cyclegan")
FAMILIES = (*TEXT_FAMILIES, *IMAGE_FAMILIES)
Features = tuple[dict[str, list[float]], list[float] | None]  # features, positive probabilities


def _text_features(version: ModelVersion, texts: Sequence[str], answered: list[float] | None = None
                   ) -> Features:
    """The features of ``texts`` and the version's positive probabilities for them (``answered``:
    the ones it gave when it served them, else computed now)."""
    from ml.common.drift import text_features
    from ml.sentiment.data import tokenize
    from ml.sentiment.infer import load, predict_many

    model = load(loading.read_checkpoint(version))
    positive = answered if answered is not None else predict_many(model, texts)
    return text_features(texts, set(model.vocab.words), tokenize), positive


def take_baseline(version: ModelVersion, samples: Sequence[Any]) -> dict[str, Any]:
    """Profile ``samples`` (texts for sentiment, PIL images for the image families: data the
    version was trained for, not fitted on) as its baseline, and keep it."""
    from ml.common.drift import image_features, profile

    if version.family not in FAMILIES:
        raise ValueError(f"drift profiles cover {', '.join(FAMILIES)} versions, not {version.family}")
    if not samples:
        raise ValueError("nothing to take a baseline from")
    if version.family in TEXT_FAMILIES:
        version.baseline = profile(*_text_features(version, samples))
    else:
        version.baseline = profile(image_features(samples))
    version.save(update_fields=["baseline"])
    return version.baseline


def captured(version: ModelVersion, limit: int) -> Features:
    """The features of the version's newest ``limit`` usable captures, and for texts the
    probabilities it answered."""
    from ml.common.drift import image_features

    rows = _captures(version).order_by("-created_at").values_list("inputs", "outputs", "files")[:limit]
    if version.family in IMAGE_FAMILIES:
        return image_features([image for _, _, files in rows if (image := _first_image(files))]), None
    texts, probabilities = [], []
    for inputs, outputs, _ in rows:
        text, p = inputs.get("text"), outputs.get("probability")
        if isinstance(text, str) and isinstance(p, (int, float)):
            texts.append(text)
            probabilities.append(float(p))
    return _text_features(version, texts, probabilities) if texts else ({}, [])


def _captures(version: ModelVersion) -> QuerySet[Capture]:
    return Capture.objects.filter(variant__version=version, tool=version.family)


def _first_image(names: list[str]) -> Image.Image | None:
    """The capture's first stored file that opens as an image (the job's photo), or None."""
    for name in names:
        try:
            with default_storage.open(name) as fh:
                image = Image.open(fh)
                image.load()
                return image
        except (OSError, Image.DecompressionBombError):
            continue
    return None


def report(version: ModelVersion) -> DriftReport | None:
    """Compare the version's newest captures with its baseline now; None without a baseline or with
    fewer than STUDIO_DRIFT_MIN_CAPTURES captures."""
    from ml.common.drift import Thresholds, compare

    if not version.baseline or version.family not in FAMILIES:
        return None
    # Counted first: the sweep asks every few seconds, and reading the captures means loading the
    # model (texts) or every photo from storage (images).
    if _captures(version).count() < settings.STUDIO_DRIFT_MIN_CAPTURES:
        return None
    features, positive = captured(version, settings.STUDIO_DRIFT_WINDOW)
    if len(next(iter(features.values()), [])) < settings.STUDIO_DRIFT_MIN_CAPTURES:
        return None
    thresholds = Thresholds(psi=settings.STUDIO_DRIFT_PSI, p_value=settings.STUDIO_DRIFT_P_VALUE,
                            positive=settings.STUDIO_DRIFT_POSITIVE_SHIFT)
    result = compare(version.baseline, features, positive, thresholds)
    previous = version.drift_reports.first()
    figures = {"features": result["features"], "positive": result.get("positive")}
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
