"""The same 413 on the path production uses: daphne → studio.asgi.application."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator

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
