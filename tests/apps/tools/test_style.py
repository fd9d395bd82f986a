"""Bad uploads and parameters on the style tool: a 400 page that says what is wrong, and no job."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.test import Client, override_settings

from apps.jobs.models import Job
from tests.apps.tools.uploads import assert_rejected, hostile_uploads
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db

URL = "/tools/style/"


def _form(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "content": SimpleUploadedFile("c.png", png_bytes((64, 48)), "image/png"),
        "style": SimpleUploadedFile("s.png", png_bytes((40, 40)), "image/png"),
        "steps": 30, "max_side": 64, "optimizer": "lbfgs", "style_weight": 1e6,
        "content_weight": 1, "tv_weight": 0, "seed": 1,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_it_accepts_good_input(alice_client: Client, apply_async: Any,
                               django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(URL, _form())
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.params["steps"] == 30 and "network" not in job.params  # the catalog picks it
    assert sorted(job.files.values_list("field", flat=True)) == ["content", "style"]
    apply_async.assert_called_once_with(args=[str(job.pk)], queue="gpu", task_id=job.task_id)


@pytest.mark.parametrize("field", ["content", "style"])
@hostile_uploads
def test_it_rejects_a_hostile_image(alice_client: Client, field: str, upload: Any,
                                    messages: list[str]) -> None:
    assert_rejected(alice_client, URL, _form(**{field: upload()}), *messages)


@override_settings(STUDIO_MAX_UPLOAD_BYTES=2000)
def test_it_rejects_a_file_over_the_per_file_limit(alice_client: Client) -> None:
    big = png_bytes((400, 300))
    assert len(big) > 2000
    upload = SimpleUploadedFile("big.png", big, "image/png")
    assert_rejected(alice_client, URL, _form(style=upload),
                    f"big.png is {filesizeformat(len(big))}; the limit is 2.0\xa0KB.")


@pytest.mark.parametrize("field", ["content", "style", "steps", "optimizer"])
def test_it_rejects_a_missing_field(alice_client: Client, field: str) -> None:
    assert_rejected(alice_client, URL, _form(**{field: None}), "This field is required.")


@pytest.mark.parametrize("changes, message", [
    ({"steps": 0}, "Ensure this value is greater than or equal to 1."),
    ({"steps": 100000}, "Ensure this value is less than or equal to 2000."),
    ({"steps": "many"}, "Enter a whole number."),
    ({"max_side": 10}, "Ensure this value is greater than or equal to 64."),
    ({"style_weight": -1}, "Ensure this value is greater than or equal to 0."),
    ({"content_weight": -0.5}, "Ensure this value is greater than or equal to 0."),
    ({"tv_weight": -3}, "Ensure this value is greater than or equal to 0."),
    ({"optimizer": "sgd-turbo"}, "Select a valid choice. sgd-turbo is not one of the available choices."),
])
def test_it_rejects_out_of_range_parameters(alice_client: Client, changes: dict[str, Any],
                                            message: str) -> None:
    assert_rejected(alice_client, URL, _form(**changes), message)


def test_it_explains_an_empty_post(alice_client: Client) -> None:
    assert_rejected(alice_client, URL, {}, "This field is required.")


def test_it_returns_404_for_an_unknown_tool(alice_client: Client) -> None:
    assert alice_client.post("/tools/no-such-tool/", _form()).status_code == 404
    assert Job.objects.count() == 0
