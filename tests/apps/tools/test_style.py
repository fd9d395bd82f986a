"""Bad uploads and parameters on the style tool: a 400 page that says what is wrong, and no job."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from apps.jobs.models import Job, JobFile
from tests.apps.conftest import png_claiming, truncated_jpeg
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db


def _form(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "content": SimpleUploadedFile("c.png", png_bytes((64, 48)), "image/png"),
        "style": SimpleUploadedFile("s.png", png_bytes((40, 40)), "image/png"),
        "steps": 30, "max_side": 64, "optimizer": "lbfgs", "style_weight": 1e6,
        "content_weight": 1, "tv_weight": 0, "seed": 1,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _assert_rejected(client: Client, data: dict[str, Any], *messages: str) -> None:
    response = client.post("/tools/style/", data)
    assert response.status_code == 400
    page = response.content.decode()
    for message in messages:
        assert message in page, (message, page[-3000:])
    assert Job.objects.count() == 0
    assert JobFile.objects.count() == 0


def test_it_accepts_good_input(alice_client: Client, apply_async: Any,
                               django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/tools/style/", _form())
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.params["steps"] == 30 and "network" not in job.params  # the catalog picks it
    assert sorted(job.files.values_list("field", flat=True)) == ["content", "style"]
    apply_async.assert_called_once_with(args=[str(job.pk)], queue="gpu", task_id=job.task_id)


def test_it_rejects_text_named_like_a_jpeg(alice_client: Client) -> None:
    fake = SimpleUploadedFile("photo.jpg", b"hello, I am not a picture\n" * 20, "image/jpeg")
    _assert_rejected(alice_client, _form(content=fake),
                     "photo.jpg: not an image (unrecognised file format)")


def test_it_rejects_a_truncated_jpeg(alice_client: Client) -> None:
    cut = SimpleUploadedFile("cut.jpg", truncated_jpeg(), "image/jpeg")
    _assert_rejected(alice_client, _form(style=cut), "cut.jpg: image is truncated or corrupt")


def test_it_rejects_an_empty_file(alice_client: Client) -> None:
    empty = SimpleUploadedFile("empty.png", b"", "image/png")
    _assert_rejected(alice_client, _form(content=empty), "The submitted file is empty.")


@pytest.mark.parametrize("size, claim", [
    ((30000, 30000), "900 MP"),  # over twice Pillow's limit: Image.open raises
    ((10000, 10000), "100 MP"),  # over Pillow's limit: it only warns, which we treat as refusal
    ((8000, 8000), "8000x8000"),  # under Pillow's limit, over the studio's 40 MP
])
def test_it_rejects_a_decompression_bomb(alice_client: Client, size: tuple[int, int],
                                         claim: str) -> None:
    data = png_claiming(*size)
    assert len(data) < 1000
    bomb = SimpleUploadedFile("bomb.png", data, "image/png")
    _assert_rejected(alice_client, _form(content=bomb), "bomb.png: image too large", claim,
                     "limit 40 MP")


@override_settings(STUDIO_MAX_UPLOAD_BYTES=2000)
def test_it_rejects_a_file_over_the_per_file_limit(alice_client: Client) -> None:
    big = png_bytes((400, 300))
    assert len(big) > 2000
    upload = SimpleUploadedFile("big.png", big, "image/png")
    _assert_rejected(alice_client, _form(style=upload), "big.png is", "the limit is 2.0\xa0KB.")


@pytest.mark.parametrize("field", ["content", "style", "steps", "optimizer"])
def test_it_rejects_a_missing_field(alice_client: Client, field: str) -> None:
    _assert_rejected(alice_client, _form(**{field: None}), "This field is required.")


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
    _assert_rejected(alice_client, _form(**changes), message)


def test_it_explains_an_empty_post(alice_client: Client) -> None:
    _assert_rejected(alice_client, {}, "This field is required.")


def test_it_returns_404_for_an_unknown_tool(alice_client: Client) -> None:
    assert alice_client.post("/tools/no-such-tool/", _form()).status_code == 404
    assert Job.objects.count() == 0
