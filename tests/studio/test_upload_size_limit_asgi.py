"""The same 413 on the path production uses: daphne → studio.asgi.application."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.test import Client

from studio.asgi import application

MB = 1024 * 1024


def test_it_refuses_a_60_mb_upload_over_asgi() -> None:
    # Django's ASGI handler reads the whole body before any middleware runs, so this test sends
    # it; the declared length is what the middleware judges.
    body = b"\0" * (60 * MB)
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/octet-stream"),
               (b"content-length", str(len(body)).encode())]
    comm = HttpCommunicator(application, "POST", "/tools/style/", body=body, headers=headers)
    response = async_to_sync(comm.get_response)(timeout=10)
    assert response["status"] == 413
    page = response["body"].decode()
    assert "Upload too large" in page and "The upload is 60.0\xa0MB" in page


def test_it_cuts_off_a_body_that_streams_past_the_limit_without_a_length() -> None:
    # No Content-Length (as with chunked uploads): the guard counts bytes as they arrive.
    body = b"\0" * (60 * MB)
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/octet-stream")]
    comm = HttpCommunicator(application, "POST", "/tools/style/", body=body, headers=headers)
    response = async_to_sync(comm.get_response)(timeout=10)
    assert response["status"] == 413
    assert "Upload too large" in response["body"].decode()


def _post_as(client: Client | None, path: str, size: int) -> int:
    body = b"\0" * size
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/octet-stream"),
               (b"content-length", str(size).encode())]
    if client is not None:
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    comm = HttpCommunicator(application, "POST", path, body=body, headers=headers)
    return async_to_sync(comm.get_response)(timeout=10)["status"]


@pytest.mark.django_db(transaction=True)
def test_only_catalog_admins_may_send_checkpoint_sized_requests(
        settings: Any, django_user_model: Any) -> None:
    """A checkpoint is bigger than any picture: the catalog's upload page takes up to
    STUDIO_MAX_CHECKPOINT_BYTES, but only from someone allowed to add model versions."""
    settings.STUDIO_MAX_REQUEST_BYTES = 1 * MB
    settings.STUDIO_MAX_CHECKPOINT_BYTES = 8 * MB
    clients = {}
    for name, fields in {"admin": {"is_staff": True, "is_superuser": True},
                         "staff": {"is_staff": True}, "user": {}}.items():
        user = django_user_model.objects.create_user(name, password="pw-for-tests-1", **fields)
        clients[name] = Client()
        clients[name].force_login(user)
    add = "/admin/catalog/modelversion/add/"
    # Past the size guard to Django, whose CSRF check refuses a post without a token (a browser's has one).
    assert _post_as(clients["admin"], add, 3 * MB) == 403
    assert _post_as(clients["admin"], add, 10 * MB) == 413  # past the checkpoint limit
    assert _post_as(clients["admin"], "/tools/style/", 3 * MB) == 413  # only on the catalog's pages
    for who in ("staff", "user", None):
        assert _post_as(clients[who] if who else None, add, 3 * MB) == 413, who


@pytest.mark.django_db(transaction=True)
def test_signed_in_users_may_send_training_sets_to_the_training_tools(
        settings: Any, django_user_model: Any) -> None:
    """A training zip is far bigger than a picture; the training tools' pages take two of
    STUDIO_MAX_TRAINING_UPLOAD_BYTES, from signed-in users only (nobody else makes the server spool
    hundreds of megabytes)."""
    settings.STUDIO_MAX_REQUEST_BYTES = 1 * MB
    settings.STUDIO_MAX_TRAINING_UPLOAD_BYTES = 3 * MB
    client = Client()
    client.force_login(django_user_model.objects.create_user("trainer", password="pw-for-tests-1"))
    assert _post_as(client, "/tools/train-cyclegan/", 5 * MB) == 403  # past the guard: CSRF, as above
    assert _post_as(client, "/tools/train-cyclegan/", 8 * MB) == 413  # past two zips
    assert _post_as(client, "/tools/style/", 2 * MB) == 413  # other tools keep the picture limit
    assert _post_as(None, "/tools/train-dcgan/", 2 * MB) == 413  # not signed in


@pytest.mark.django_db(transaction=True)
def test_api_tokens_may_send_training_sets_to_the_api_training_tools(settings: Any,
                                                                     django_user_model: Any) -> None:
    """The API's training submits get the training pages' limit for a valid token, over ASGI and
    through the middleware; no token, a revoked one or another API path keep the small one."""
    from apps.api.models import ApiToken

    settings.STUDIO_MAX_REQUEST_BYTES = 1 * MB
    settings.STUDIO_MAX_TRAINING_UPLOAD_BYTES = 3 * MB
    row, token = ApiToken.issue(django_user_model.objects.create_user("api-trainer"), "t")

    def post(path: str, size: int, bearer: str | None) -> int:
        headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/octet-stream"),
                   (b"content-length", str(size).encode())]
        if bearer:
            headers.append((b"authorization", f"Bearer {bearer}".encode()))
        comm = HttpCommunicator(application, "POST", path, body=b"\0" * size, headers=headers)
        return async_to_sync(comm.get_response)(timeout=10)["status"]

    path = "/api/tools/train-dcgan/jobs"
    assert post(path, 5 * MB, token) == 400  # through to the API, which refuses what is not a form body
    assert post(path, 8 * MB, token) == 413  # past two zips
    assert post(path, 2 * MB, None) == 413
    assert post("/api/tools/sentiment/jobs", 2 * MB, token) == 413  # other tools: the picture limit
    row.revoke()
    assert post(path, 2 * MB, token) == 413
