"""A .safetensors checkpoint of each image and text family validates in the catalog and gives the
same outputs as its .pth twin; the version page offers the checkpoint as safetensors, and export
then import gives back the same tensor bytes."""

from __future__ import annotations

import io
import struct
from typing import Any

import pytest
import safetensors.torch
import torch
from torch import nn

from apps.catalog import services
from apps.catalog.loading import read_checkpoint
from apps.catalog.models import ModelVersion
from ml.common.checkpoint import checkpoint_dict, load_checkpoint, to_safetensors
from ml.common.family import load_model
from ml.cyclegan.config import CycleGANConfig
from ml.dcgan.config import DCGANConfig
from ml.families import get_family
from ml.fast_style.config import FastStyleConfig
from ml.textgen.config import CharRNNConfig

pytestmark = pytest.mark.django_db

CONFIGS: dict[str, Any] = {
    "dcgan": DCGANConfig(ngf=8),
    "cyclegan": CycleGANConfig(ngf=8, n_blocks=2),
    "fast-style": FastStyleConfig(styles=["candy"]),
    "textgen": CharRNNConfig(tokens="abcdefgh", n_hidden=16, n_layers=2),
}


def studio(family: str) -> dict[str, Any]:
    """A small random model of the family, as the studio's checkpoint dict."""
    torch.manual_seed(0)
    cfg = CONFIGS[family]
    return checkpoint_dict(family=family, config=cfg, state_dict=get_family(family).build(cfg).state_dict())


def pth(checkpoint: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return buffer.getvalue()


def upload(family: str, data: bytes, filename: str) -> ModelVersion:
    version = services.add_version(family, filename, io.BytesIO(data), filename)
    version = services.validate_version(version)
    assert version.validation == "valid", version.validation_errors
    return version


def output(family: str, checkpoint: dict[str, Any]) -> torch.Tensor:
    """The model's output on the family's fixed dry-run input."""
    fam = get_family(family)
    model = load_model(fam, checkpoint, nn.Module)
    with torch.inference_mode():
        out = model(fam.example_input(CONFIGS[family]))
    return out[0] if isinstance(out, tuple) else out


def same_bytes(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
        and a[k].numpy().tobytes() == b[k].numpy().tobytes() for k in a)


@pytest.mark.parametrize("family", sorted(CONFIGS))
def test_a_studio_safetensors_file_validates_and_matches_its_pth_twin(family: str) -> None:
    checkpoint = studio(family)
    twin = read_checkpoint(upload(family, pth(checkpoint), f"{family}.pth"))
    version = upload(family, to_safetensors(checkpoint), f"{family}.safetensors")
    assert version.source == "uploaded" and version.config == twin["config"]  # kept as it came
    loaded = read_checkpoint(version)
    assert same_bytes(loaded["state_dict"], twin["state_dict"])
    assert torch.equal(output(family, loaded), output(family, twin))


def public_safetensors(family: str, state: dict[str, torch.Tensor]) -> bytes:
    """The family's public layout as safetensors: a plain state_dict (the char-RNN's sizes and
    tokens beside it, as metadata)."""
    metadata = {"format": "pt"}
    if family == "textgen":
        cfg = CONFIGS[family]
        metadata = {"n_hidden": str(cfg.n_hidden), "n_layers": str(cfg.n_layers), "tokens": cfg.tokens}
    return safetensors.torch.save(state, metadata=metadata)


@pytest.mark.parametrize("family", sorted(CONFIGS))
def test_a_public_layout_safetensors_file_is_imported_through_the_family_importer(family: str) -> None:
    checkpoint = studio(family)
    version = upload(family, public_safetensors(family, checkpoint["state_dict"]), "candy.safetensors")
    assert version.source == "imported"
    assert version.source_ref.startswith("uploaded candy.safetensors sha256:")
    loaded = read_checkpoint(version)
    if family == "fast-style":  # named after the file, as a .pth is
        assert loaded["config"]["styles"] == ["candy"]
    assert same_bytes(loaded["state_dict"], checkpoint["state_dict"])
    assert torch.equal(output(family, loaded), output(family, checkpoint))


@pytest.fixture
def valid_dcgan() -> ModelVersion:
    return upload("dcgan", pth(studio("dcgan")), "dcgan.pth")


def test_the_version_page_offers_the_checkpoint_as_safetensors_round_trip_exact(
        admin_client: Any, valid_dcgan: ModelVersion) -> None:
    page = admin_client.get(f"/admin/catalog/modelversion/{valid_dcgan.pk}/change/").content.decode()
    url = f"/catalog/versions/{valid_dcgan.pk}/safetensors/"
    assert f'href="{url}">download as safetensors' in page
    response = admin_client.get(url)
    assert response.status_code == 200
    disposition = f'attachment; filename="dcgan-v{valid_dcgan.version}.safetensors"'
    assert response["Content-Disposition"] == disposition
    exported = load_checkpoint(io.BytesIO(response.content))
    original = read_checkpoint(valid_dcgan)
    assert exported["config"] == original["config"] and exported["family"] == "dcgan"
    assert same_bytes(exported["state_dict"], original["state_dict"])
    # ... and uploading the download gives a version with the very same tensors.
    again = read_checkpoint(upload("dcgan", response.content, "again.safetensors"))
    assert same_bytes(again["state_dict"], original["state_dict"])


def test_only_catalog_admins_download_and_only_validated_versions(
        alice: Any, alice_client: Any, client: Any, admin_client: Any, valid_dcgan: ModelVersion) -> None:
    url = f"/catalog/versions/{valid_dcgan.pk}/safetensors/"
    assert client.get(url).status_code == 302  # signed out: to the login page
    assert alice_client.get(url).status_code == 403
    alice.is_staff = True  # staff, but without the catalog's permissions
    alice.save()
    assert alice_client.get(url).status_code == 403
    ModelVersion.objects.filter(pk=valid_dcgan.pk).update(validation="invalid")
    assert admin_client.get(url).status_code == 404


@pytest.mark.parametrize(("data", "message"), [
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 9\n",
     "this is a Git LFS pointer, not the weights: fetch the real file with git lfs pull"),
    (struct.pack("<Q", 4000) + b'{"x": 1}',
     "a safetensors file with a broken header: the header length says 4,000 bytes but the file "
     "holds only 8 after it"),
])
def test_a_git_lfs_pointer_or_a_broken_header_ends_invalid_saying_so(data: bytes, message: str) -> None:
    version = services.add_version("dcgan", "broken", io.BytesIO(data), "netG_epoch_24.safetensors")
    version = services.validate_version(version)
    assert version.validation == "invalid" and version.validation_errors == message
