"""RequestSizeLimitMiddleware: an oversized request is refused with a readable 413, no job."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from apps.jobs.models import Job
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def _assert_too_large(response: Any) -> None:
    assert response.status_code == 413
    page = response.content.decode()
    assert "Upload too large" in page
    assert "The upload is 60.0\xa0MB; the studio accepts at most 41.0\xa0MB per request" in page
    assert "(20.0\xa0MB per file)" in page
    assert Job.objects.count() == 0


def test_it_refuses_a_60_mb_upload(alice_client: Client) -> None:
    # A real multipart body whose file alone is ~60 MB (zeros: building it takes milliseconds).
    huge = SimpleUploadedFile("huge.png", b"\0" * (60 * MB - 2048), "image/png")
    data = {"content": huge, "style": SimpleUploadedFile("s.png", png_bytes(), "image/png"),
            "steps": 10}
    response = alice_client.post("/tools/style/", data)
    _assert_too_large(response)


def test_it_refuses_by_the_declared_length_before_reading_the_body(alice_client: Client) -> None:
    response = alice_client.post("/tools/style/", b"x", content_type="application/octet-stream",
                                 CONTENT_LENGTH=str(60 * MB))
    _assert_too_large(response)


def test_it_refuses_big_requests_from_anonymous_users_too(client: Client) -> None:
    response = client.post("/accounts/login/", b"x", content_type="application/octet-stream",
                           CONTENT_LENGTH=str(60 * MB))
    _assert_too_large(response)


@override_settings(STUDIO_MAX_REQUEST_BYTES=100_000)
def test_it_reads_the_limit_per_request_and_lets_smaller_ones_through(alice_client: Client) -> None:
    small = {"content": SimpleUploadedFile("c.png", png_bytes(), "image/png"), "steps": 10}
    response = alice_client.post("/tools/style/", small)
    assert response.status_code == 400  # reached the form: a field is missing, nothing too large
    assert b"This field is required." in response.content
    big = {"content": SimpleUploadedFile("c.png", b"\0" * 100_001, "image/png")}
    assert alice_client.post("/tools/style/", big).status_code == 413


def test_a_catalog_admin_may_upload_a_checkpoint_larger_than_a_picture(admin_client: Client,
                                                                       alice_client: Client) -> None:
    """Same rule as the ASGI guard, for the other ways in: only catalog admins, only there."""
    add = "/admin/catalog/modelversion/add/"
    big = {"CONTENT_LENGTH": str(60 * MB), "content_type": "application/octet-stream"}
    assert admin_client.post(add, b"x", **big).status_code == 200  # through to the admin's form
    assert alice_client.post(add, b"x", **big).status_code == 413
    assert admin_client.post("/tools/style/", b"x", **big).status_code == 413
