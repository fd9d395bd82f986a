"""The model catalog: versions, safe validation, activation and roll-back, admin access."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from torch import nn

from apps.catalog import services
from apps.catalog.models import ModelVersion
from tests.apps.catalog.conftest import tiny_checkpoint

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tiny_family")]


def add(content: bytes, name: str = "tiny") -> ModelVersion:
    return services.add_version("dcgan", name, io.BytesIO(content), "tiny.pt")


def test_it_records_sha256_size_and_numbers_versions() -> None:
    data = tiny_checkpoint()
    first, second = add(data), add(data)
    assert first.sha256 == hashlib.sha256(data).hexdigest() and first.size == len(data)
    assert (first.version, second.version) == (1, 2)
    assert first.label == f"dcgan/v1@{first.sha256[:12]}"


def test_it_validates_a_fitting_checkpoint() -> None:
    version = services.validate_version(add(tiny_checkpoint()))
    assert version.validation == "valid" and version.validation_errors == ""
    assert version.config == {"width": 4}


class Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_it_rejects_a_hostile_pickle_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"format": "studio-checkpoint", "state_dict": Payload(str(marker))}, buffer)
    version = services.validate_version(add(buffer.getvalue()))
    assert version.validation == "invalid"
    assert version.validation_errors == "refused: contains code/objects that are not plain tensors"
    assert not marker.exists()


def test_it_rejects_a_truncated_file() -> None:
    version = services.validate_version(add(tiny_checkpoint()[:200]))
    assert version.validation == "invalid"
    assert version.validation_errors == "not a checkpoint: file is truncated or corrupt"


def test_it_rejects_wrong_shapes_and_names_them() -> None:
    bad = nn.Linear(3, 4).state_dict()
    bad["weight"] = torch.zeros(5, 3)
    version = services.validate_version(add(tiny_checkpoint(state=bad)))
    assert version.validation == "invalid"
    assert "shape mismatch for weight: checkpoint (5, 3), model (4, 3)" in version.validation_errors


def test_it_rejects_nan_weights() -> None:
    bad = nn.Linear(3, 4).state_dict()
    bad["bias"] = torch.full((4,), float("nan"))
    version = services.validate_version(add(tiny_checkpoint(state=bad)))
    assert "non-finite values (NaN/inf) in bias" in version.validation_errors


def test_it_rejects_a_checkpoint_of_another_family() -> None:
    version = services.validate_version(add(tiny_checkpoint(family="cyclegan")))
    assert "checkpoint is for family 'cyclegan', not 'dcgan'" in version.validation_errors


def test_it_refuses_to_activate_an_unvalidated_version() -> None:
    with pytest.raises(services.CatalogError, match="has not passed validation"):
        services.activate(add(tiny_checkpoint()))


def test_activating_retires_the_previous_and_roll_back_restores_it() -> None:
    first = services.validate_version(add(tiny_checkpoint(), "first"))
    second = services.validate_version(add(tiny_checkpoint(), "second"))
    services.activate(first)
    services.activate(second)
    assert services.active_version("dcgan") == second
    first.refresh_from_db()
    assert first.status == "retired"
    assert services.roll_back("dcgan") == first
    assert services.active_version("dcgan") == first
    assert ModelVersion.objects.filter(family="dcgan", status="active").count() == 1


def test_roll_back_without_an_earlier_version_says_so() -> None:
    only = services.validate_version(add(tiny_checkpoint()))
    services.activate(only)
    with pytest.raises(services.CatalogError, match="No earlier valid dcgan version"):
        services.roll_back("dcgan")


def test_a_non_admin_cannot_reach_the_catalog_admin(alice_client: Any) -> None:
    response = alice_client.get("/admin/catalog/modelversion/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_staff_without_permission_gets_403(alice: Any, alice_client: Any) -> None:
    alice.is_staff = True
    alice.save()
    assert alice_client.get("/admin/catalog/modelversion/").status_code == 403


def test_an_admin_upload_is_stored_hashed_and_queued_for_validation(admin_client: Any) -> None:
    data = tiny_checkpoint()
    with mock.patch("apps.catalog.tasks.validate_version.apply_async") as queued, \
            mock.patch("django.db.transaction.on_commit", lambda fn, *a, **k: fn()):
        response = admin_client.post("/admin/catalog/modelversion/add/", {
            "family": "dcgan", "name": "uploaded", "description": "", "source": "uploaded",
            "licence": "", "metrics": "{}", "previews-TOTAL_FORMS": 0, "previews-INITIAL_FORMS": 0,
            "checkpoint": SimpleUploadedFile("netG.pt", data)})
    assert response.status_code == 302, response.content[:3000]
    version = ModelVersion.objects.get(name="uploaded")
    assert version.size == len(data) and version.version == 1 and len(version.sha256) == 64
    queued.assert_called_once_with(args=[version.pk], queue="cpu")
