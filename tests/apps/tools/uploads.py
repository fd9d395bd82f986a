"""What the image tools' forms share in their tests: a refused submit (a 400 page that says what is
wrong, and no job), and the hostile uploads every image field must refuse."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.jobs.models import Job, JobFile
from tests.apps.conftest import png_claiming, truncated_jpeg


def assert_rejected(client: Client, url: str, data: dict[str, Any], *messages: str) -> str:
    """POST ``data`` to the tool page ``url``: a 400 page showing each message, and nothing stored."""
    response = client.post(url, data)
    assert response.status_code == 400
    page = response.content.decode()
    for message in messages:
        assert message in page, (message, page[-3000:])
    assert Job.objects.count() == 0 and JobFile.objects.count() == 0
    return page


def _bomb(width: int, height: int) -> SimpleUploadedFile:
    data = png_claiming(width, height)
    assert len(data) < 1000  # tiny on disk; only its header claims the size
    return SimpleUploadedFile("bomb.png", data, "image/png")


# (upload factory, what the page must say): a fresh file per test, since a read one is used up.
hostile_uploads = pytest.mark.parametrize(("upload", "messages"), [
    (lambda: SimpleUploadedFile("photo.jpg", b"hello, I am not a picture\n" * 20, "image/jpeg"),
     ["photo.jpg: not an image (unrecognised file format)"]),
    (lambda: SimpleUploadedFile("cut.jpg", truncated_jpeg(), "image/jpeg"),
     ["cut.jpg: image is truncated or corrupt"]),
    (lambda: SimpleUploadedFile("empty.png", b"", "image/png"), ["The submitted file is empty."]),
    # over twice Pillow's limit: Image.open raises
    (lambda: _bomb(30000, 30000), ["bomb.png: image too large", "900 MP", "limit 40 MP"]),
    # over Pillow's limit: it only warns, which the studio treats as refusal
    (lambda: _bomb(10000, 10000), ["bomb.png: image too large", "100 MP", "limit 40 MP"]),
    # under Pillow's limit, over the studio's 40 MP
    (lambda: _bomb(8000, 8000), ["bomb.png: image too large", "8000x8000", "limit 40 MP"]),
], ids=["text named like a jpeg", "truncated jpeg", "empty file", "900 MP bomb", "100 MP bomb",
        "64 MP bomb"])
