"""The catalog admin: model card, usage counts and recent jobs, previews, switching by action;
and nobody but an admin gets in."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
import torch
from django.core.files.base import ContentFile
from torch import nn

from apps.catalog import services
from apps.catalog.models import ModelPreview, ModelVersion
from ml.common.checkpoint import save_checkpoint
from ml.common.family import Family
from ml.families import FAMILIES
from tests.apps.conftest import make_job
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/catalog/modelversion/"


@dataclass
class TinyConfig:
    width: int = 4


@pytest.fixture(autouse=True)
def tiny_family() -> Any:
    family = Family("dcgan", TinyConfig, lambda cfg: nn.Linear(3, cfg.width), lambda cfg: torch.ones(1, 3))
    with mock.patch.dict(FAMILIES, {"dcgan": family}), mock.patch("ml.families._load_all", lambda: None):
        yield


def valid_version(name: str, **fields: Any) -> ModelVersion:
    buffer = io.BytesIO()
    save_checkpoint(buffer, family="dcgan", config=TinyConfig(), state_dict=nn.Linear(3, 4).state_dict())
    buffer.seek(0)
    return services.validate_version(services.add_version("dcgan", name, buffer, f"{name}.pt", **fields))


def test_the_activate_action_switches_the_serving_version(admin_client: Any) -> None:
    first, second = valid_version("first"), valid_version("second")
    services.activate(first)
    response = admin_client.post(CHANGELIST, {"action": "activate", "_selected_action": [second.pk]})
    assert response.status_code == 302
    assert services.active_version("dcgan") == second
    first.refresh_from_db()
    assert first.status == "retired"
    response = admin_client.post(CHANGELIST, {"action": "roll_back", "_selected_action": [second.pk]})
    assert services.active_version("dcgan") == first


def test_the_list_counts_jobs_per_version(admin_client: Any, alice: Any) -> None:
    used, unused = valid_version("used"), valid_version("unused")
    for _ in range(3):
        make_job(alice, state="succeeded", model=used, model_sha256=used.sha256)
    response = admin_client.get(CHANGELIST)
    rows = {v.pk: v.jobs_count for v in response.context["cl"].result_list}
    assert rows == {used.pk: 3, unused.pk: 0}
    assert b'<td class="field-jobs_count">3</td>' in response.content


def test_the_change_page_shows_the_model_card_recent_jobs_and_previews(admin_client: Any, alice: Any) -> None:
    version = valid_version("faces", description="Generates 64x64 faces.", licence="research only",
                            source="package", source_ref="pypi:gan-face-generate==1.1.1")
    job = make_job(alice, kind="dcgan", state="succeeded", model=version, model_sha256=version.sha256)
    preview = ModelPreview(version=version, label="mosaic", position=0)
    preview.image.save("mosaic.png", ContentFile(png_bytes()), save=True)
    page = admin_client.get(f"{CHANGELIST}{version.pk}/change/").content.decode()
    for text in ("Generates 64x64 faces.", "research only", version.sha256, "pypi:gan-face-generate==1.1.1",
                 "1 job in all.", f"/admin/jobs/job/{job.pk}/change/", f"/catalog/previews/{preview.pk}/",
                 "mosaic", "validation: <strong>valid</strong>"):
        assert text in page, text


def test_previews_are_served_to_signed_in_users_only(alice_client: Any, client: Any) -> None:
    version = valid_version("styles")
    preview = ModelPreview(version=version, label="ink", position=0)
    preview.image.save("ink.png", ContentFile(png_bytes()), save=True)
    response = alice_client.get(f"/catalog/previews/{preview.pk}/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == png_bytes()
    assert response["Content-Type"] == "image/png"
    assert client.get(f"/catalog/previews/{preview.pk}/").status_code == 302


@pytest.mark.parametrize("path", [CHANGELIST, f"{CHANGELIST}add/", "/admin/jobs/job/"])
def test_a_signed_in_non_admin_is_sent_to_the_admin_login(alice_client: Any, path: str) -> None:
    response = alice_client.get(path)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_non_admin_cannot_switch_versions(alice: Any, alice_client: Any) -> None:
    first, second = valid_version("first"), valid_version("second")
    services.activate(first)
    alice.is_staff = True  # staff, but without catalog permissions
    alice.save()
    response = alice_client.post(CHANGELIST, {"action": "activate", "_selected_action": [second.pk]})
    assert response.status_code == 403
    assert services.active_version("dcgan") == first
