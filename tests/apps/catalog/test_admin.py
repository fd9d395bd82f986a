"""The catalog admin: model card, usage counts and recent jobs, previews, switching by action;
and nobody but an admin gets in."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile

from apps.catalog import services
from apps.catalog.models import ModelPreview
from tests.apps.catalog.conftest import valid_version
from tests.apps.conftest import make_job
from tests.conftest import png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tiny_family")]
CHANGELIST = "/admin/catalog/modelversion/"


def test_the_activate_action_switches_the_serving_version(admin_client: Any) -> None:
    first, second = valid_version("first"), valid_version("second")
    services.activate(first)
    response = admin_client.post(CHANGELIST, {"action": "activate", "_selected_action": [second.pk]})
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    assert services.active_version("dcgan") == second
    first.refresh_from_db()
    assert first.status == "retired"
    response = admin_client.post(CHANGELIST, {"action": "roll_back", "_selected_action": [second.pk]})
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    assert services.active_version("dcgan") == first
    second.refresh_from_db()
    assert second.status == "retired"


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
