"""Helpers for talking to studio.asgi.application over an in-process WebSocket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from studio.asgi import application

ORIGIN = b"http://127.0.0.1:8000"


def communicator(job_id: Any, client: Client | None = None, *, after: int | None = None,
                 origin: bytes | None = ORIGIN) -> WebsocketCommunicator:
    """A socket for job_id; logged in as the client's user when given, with the given Origin."""
    headers = [(b"host", b"127.0.0.1:8000")]
    if origin is not None:
        headers.append((b"origin", origin))
    if client is not None:
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    query = f"?after={after}" if after is not None else ""
    return WebsocketCommunicator(application, f"/ws/jobs/{job_id}/{query}", headers=headers)


def on_socket(job_id: Any, client: Client, scenario: Callable[[WebsocketCommunicator], Awaitable[None]], *,
              after: int | None = None) -> None:
    """Open the job's socket as the client's user, run ``scenario`` on it, and close it."""

    async def run() -> None:
        comm = communicator(job_id, client, after=after)
        connected, code = await comm.connect(timeout=5)
        assert connected, code
        try:
            await scenario(comm)
        finally:
            await comm.disconnect()

    async_to_sync(run)()
