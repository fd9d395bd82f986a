"""Drift of an image model's traffic (apps/catalog/drift.py): a fast style version's baseline from
crops of scikit-image's photos; more crops of the same photos, captured as jobs' input files, raise
no alarm; the same crops made very dark do, on brightness. The command takes a baseline from a
folder of photos."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from PIL import Image, ImageEnhance

from apps.catalog import capture, drift
from apps.catalog.models import Endpoint, ModelVersion, Variant
from ml.common.bundled_images import COLOUR_PHOTOS, BundledImagesMissing, bundled_photos
from tests.conftest import unavailable

pytestmark = pytest.mark.django_db


def crops(seed: int, n: int, light: float = 1.0) -> list[Image.Image]:
    """``n`` random 160x120 crops of the colour photos, their brightness times ``light``."""
    try:
        photos = bundled_photos(COLOUR_PHOTOS, max_side=512)
    except BundledImagesMissing as exc:
        unavailable(str(exc))
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        photo = rng.choice(photos)
        x, y = rng.randrange(photo.width - 160), rng.randrange(photo.height - 120)
        out.append(ImageEnhance.Brightness(photo.crop((x, y, x + 160, y + 120))).enhance(light))
    return out


def png(image: Image.Image) -> ContentFile[bytes]:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return ContentFile(buffer.getvalue())


@pytest.fixture
def variant() -> Variant:
    version = ModelVersion.objects.create(family="fast-style", version=1, name="starry", sha256="0" * 64,
                                          checkpoint="catalog/fast-style/starry.pt", validation="valid")
    return Variant.objects.create(endpoint=Endpoint.objects.create(family="fast-style"), name="A",
                                  version=version, capture_rate=1.0)


def feed(variant: Variant, images: list[Image.Image]) -> None:
    """Captures as fast style jobs leave them: the parameters, and a copy of the input photo."""
    for image in images:
        capture.record(variant.pk, "job", "fast-style", {"max_side": 512}, {"styles": ["starry"]},
                       files=[("photo.png", png(image))])


def test_very_dark_photos_raise_the_alarm_and_photos_like_the_training_ones_do_not(variant: Variant,
                                                                                    settings: Any) -> None:
    settings.STUDIO_DRIFT_MIN_CAPTURES = 50
    baseline = drift.take_baseline(variant.version, crops(seed=1, n=300))
    assert baseline["n"] == 300 and baseline["positive"] is None
    assert set(baseline["features"]) == {"megapixels", "brightness", "contrast", "saturation"}

    feed(variant, crops(seed=2, n=80))
    quiet = drift.report(variant.version)
    assert quiet is not None and quiet.n == 80 and quiet.alarms == [], quiet.figures

    variant.captures.all().delete()
    feed(variant, crops(seed=2, n=80, light=0.15))
    loud = drift.report(variant.version)
    assert loud is not None and any(a.startswith("brightness: PSI") for a in loud.alarms), loud.alarms
    assert loud.figures["features"]["brightness"]["psi"] > 1
    assert not any(a.startswith("megapixels") for a in loud.alarms)  # the same sizes throughout
    for name, report in (("like the training photos", quiet), ("very dark", loud)):
        print(name, {k: (f["psi"], f"{f['p_value']:.1e}") for k, f in report.figures["features"].items()})


def test_the_command_takes_a_baseline_from_a_folder_of_photos(variant: Variant, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    for i, image in enumerate(crops(seed=3, n=12)):
        image.save(tmp_path / f"{i:02d}.png")
    call_command("drift", "baseline", "fast-style/v1", str(tmp_path))
    assert "fast-style/v1@000000000000: baseline of 12 photos" in capsys.readouterr().out
    variant.version.refresh_from_db()
    assert variant.version.baseline["n"] == 12


def test_too_few_captures_are_counted_not_read(variant: Variant, settings: Any) -> None:
    """The sweep asks every few seconds: below the minimum, no photo is opened."""
    settings.STUDIO_DRIFT_MIN_CAPTURES = 50
    drift.take_baseline(variant.version, crops(seed=1, n=60))
    feed(variant, crops(seed=2, n=10))
    with mock.patch.object(drift, "captured", side_effect=AssertionError("read too early")):
        assert drift.report(variant.version) is None and drift.sweep() == 0
