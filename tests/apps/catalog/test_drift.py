"""Drift (apps/catalog/drift.py, ml/common/drift.py), on real reviews: a bag of words trained on
Pang & Lee's English movie reviews, its baseline taken from its validation rows. Its own held-out
English reviews as traffic raise no alarm; German Amazon reviews (the same Debian corpora) do, and
the alarm reaches the admins' mail, the admin's chart and /metrics. Also the statistics alone."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from django.core import mail
from django.core.management import call_command

from apps.catalog import capture, drift, services
from apps.catalog.models import DriftReport, Endpoint, ModelVersion, Variant
from ml.common.drift import Thresholds, compare, profile, psi
from ml.common.progress import NullProgress
from ml.sentiment.config import TrainConfig
from ml.sentiment.data import read_csv, split
from ml.sentiment.infer import load, predict_many
from ml.sentiment.starter import HELD_OUT_EVERY, WHOLE_REVIEW, find_pang_lee
from ml.sentiment.training import train
from tests.conftest import unavailable

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def reviews() -> tuple[Any, Any, dict[str, Any]]:
    """(English reviews, German reviews, the trained checkpoint): trained once for the module."""
    english = find_pang_lee()
    if english is None:
        unavailable("no Pang & Lee polarity data: bash scripts/text_data.sh")
    german = Path(english).with_name("polarity-de-amazon.csv")
    data = read_csv(english)
    cfg = TrainConfig(kind="bow", epochs=3, length=WHOLE_REVIEW, test_every=HELD_OUT_EVERY)
    return data, read_csv(german), train(cfg, data, NullProgress()).checkpoint


def english_version(checkpoint: dict[str, Any]) -> ModelVersion:
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    version = services.validate_version(services.add_version("sentiment", "english bow", buffer, "bow.pt"))
    assert version.validation == ModelVersion.Validation.VALID, version.validation_errors
    services.activate(version)
    return version


def feed(variant: Variant, checkpoint: dict[str, Any], texts: list[str]) -> None:
    """Captures as the variant's traffic leaves them: each text and the probability it answered."""
    for text, p in zip(texts, predict_many(load(checkpoint), texts), strict=True):
        capture.record(variant.pk, "invoke", "sentiment", {"text": text}, {"probability": p})


def test_german_reviews_raise_the_alarm_and_english_ones_do_not(reviews: Any, settings: Any,
                                                               admin_client: Any) -> None:
    english, german, checkpoint = reviews
    settings.ADMINS, settings.STUDIO_DRIFT_MIN_CAPTURES = [("Ops", "ops@example.com")], 100
    cfg = TrainConfig(kind="bow", epochs=3, length=WHOLE_REVIEW, test_every=HELD_OUT_EVERY)
    parts = split(english, cfg.seed, cfg.validation, cfg.test, cfg.test_every)  # as the training split it
    version = english_version(checkpoint)
    baseline = drift.take_baseline(version, parts.validation.texts)  # rows the vocabulary never saw
    assert baseline["n"] == len(parts.validation) == 150
    variant = Variant.objects.create(endpoint=Endpoint.objects.create(family="sentiment"), name="A",
                                     version=version, capture_rate=1.0)

    feed(variant, checkpoint, parts.test.texts)  # the 150 held-out English reviews
    quiet = drift.report(version)
    assert quiet is not None and quiet.n == 150 and quiet.alarms == [], quiet.alarms
    assert all(f["psi"] < 0.2 for f in quiet.figures["features"].values()), quiet.figures
    assert not mail.outbox

    variant.captures.all().delete()
    feed(variant, checkpoint, german.texts)  # 200 German product reviews
    loud = drift.report(version)
    assert loud is not None and loud.n == len(german.texts)
    assert any(a.startswith("oov: PSI") for a in loud.alarms), loud.alarms
    assert loud.figures["features"]["oov"]["psi"] > 2
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == f"[studio] Drift: {version.label}"

    page = admin_client.get(f"/admin/catalog/driftreport/{loud.pk}/change/").content.decode()
    assert 'id="drift-chart"' in page and "oov</strong>: PSI" in page
    metrics = admin_client.get("/metrics").content.decode()
    assert f'studio_drift_alarm{{version="sentiment/v{version.version}"}} 1.0' in metrics
    assert drift.report(version) is not None and len(mail.outbox) == 1  # still alarming: told once


def test_the_command_takes_a_baseline_and_reports(reviews: Any, settings: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    english, german, checkpoint = reviews
    settings.STUDIO_DRIFT_MIN_CAPTURES = 50
    version = english_version(checkpoint)
    rows = [f'"1","{t.replace(chr(34), "")}"' for t in english.texts[:300]]
    (tmp_path / "held.csv").write_text("\n".join(rows))
    call_command("drift", "baseline", f"sentiment/v{version.version}", str(tmp_path / "held.csv"))
    assert "baseline of 300 texts" in capsys.readouterr().out
    variant = Variant.objects.create(endpoint=Endpoint.objects.create(family="sentiment"), name="A",
                                     version=version)
    feed(variant, checkpoint, german.texts[:60])
    call_command("drift", "report", str(version.pk))
    assert "oov: PSI" in capsys.readouterr().out
    assert DriftReport.objects.filter(version=version).count() == 1


def test_psi_and_compare_on_made_up_numbers() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0
    assert round(psi([0.5, 0.5], [0.9, 0.1]), 3) == round(0.4 * 0.5878 + 0.4 * 1.6094, 3)
    rng = random.Random(1)
    same = [rng.gauss(10, 2) for _ in range(2000)]
    base = profile({"x": same[:1000]}, [0.9] * 500 + [0.1] * 500)
    calm = compare(base, {"x": same[1000:]}, [0.9] * 50 + [0.1] * 50, Thresholds())
    moved = compare(base, {"x": [v + 3 for v in same[1000:]]}, [0.9] * 90 + [0.1] * 10, Thresholds())
    assert calm["alarms"] == []
    assert moved["alarms"][0].startswith("x: PSI")
    assert "positive predictions 90% against 50%" in moved["alarms"][1]
