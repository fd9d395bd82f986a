"""An admin uploads a public checkpoint through the real server; a worker validates it.

The file is vintagify's CycleGAN generator as published (a plain 45 MB state_dict): larger than
any picture the studio accepts, and not a studio checkpoint, so this also checks that the catalog
page takes checkpoint-sized uploads from an admin and that validation imports public formats.
"""

from __future__ import annotations

import re
import urllib.request
import uuid
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from django.test import Client

from apps.catalog.models import ModelVersion
from ml.cyclegan.starter import find_vintagify_weights
from tests.integration.helpers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def multipart(fields: dict[str, str], files: dict[str, Path]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for name, path in files.items():
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{path.name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n")
        parts.append(head.encode() + path.read_bytes() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_an_admin_uploads_a_public_cyclegan_file_and_a_worker_validates_it(stack, admin_user) -> None:
    weights = find_vintagify_weights()
    if weights is None:
        pytest.fail("vintagify is not installed (requirements-models.txt)")
    django_client = Client()
    django_client.force_login(admin_user)
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    add = f"{stack.base_url}/admin/catalog/modelversion/add/"
    cookie = f"sessionid={django_client.cookies['sessionid'].value}"
    page = opener.open(urllib.request.Request(add, headers={"Cookie": cookie})).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]  # type: ignore[index]
    csrf_cookie = next(c.value for c in jar if c.name == "csrftoken")
    body, content_type = multipart(
        {"csrfmiddlewaretoken": token, "family": "cyclegan", "name": "vintage, uploaded",
         "description": "", "source": "uploaded", "licence": "MIT", "metrics": "{}",
         "previews-TOTAL_FORMS": "0", "previews-INITIAL_FORMS": "0"},
        {"checkpoint": weights})
    assert len(body) > 41 * 1024 * 1024  # over the per-request limit everyone else gets
    request = urllib.request.Request(add, data=body, method="POST", headers={
        "Content-Type": content_type, "Cookie": f"{cookie}; csrftoken={csrf_cookie}", "Referer": add})
    with opener.open(request) as response:  # the admin redirects to the list on success
        assert response.status == 200 and response.url.endswith("/admin/catalog/modelversion/")

    version = ModelVersion.objects.get(name="vintage, uploaded")
    wait_for(lambda: ModelVersion.objects.get(pk=version.pk).validation != "pending", 120, "validation")
    version.refresh_from_db()
    assert version.validation == "valid", version.validation_errors
    assert version.source == "imported"
    assert version.source_ref.startswith("uploaded G_A2B_epoch33.pth sha256:")
    assert (version.config["n_blocks"], version.config["affine"]) == (9, True)  # vintagify's layout
