"""Helpers for the real-path tests: log in, submit through the web views, listen on the real
WebSocket served by daphne, read an API event stream, wait on the database."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from websockets.sync.client import ClientConnection, connect

from apps.jobs.models import Job
from tests.conftest import Stack, png_bytes
from tests.conftest import wait_for as wait_for  # the real-path tests' one way to wait


def logged_in(username: str) -> tuple[Any, Client]:
    user = get_user_model().objects.create_user(username, password="pw-for-tests-1")
    client = Client()
    client.force_login(user)
    return user, client


def submit(client: Client, slug: str, data: dict[str, Any]) -> Job:
    response = client.post(f"/tools/{slug}/", data)
    assert response.status_code == 302, response.content[:2000]
    return Job.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])


def submit_style(client: Client, **params: Any) -> Job:
    data = {"content": SimpleUploadedFile("c.png", png_bytes((64, 48)), "image/png"),
            "style": SimpleUploadedFile("s.png", png_bytes((40, 40), (30, 160, 90)), "image/png"),
            "steps": 30, "max_side": 64, "optimizer": "lbfgs", "style_weight": 1e6,
            "content_weight": 1, "tv_weight": 0, "seed": 1}
    data.update(params)
    return submit(client, "style", data)


def open_socket(stack: Stack, client: Client, job: Job, after: int = 0) -> ClientConnection:
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return connect(f"{stack.ws_url}/ws/jobs/{job.pk}/?after={after}",
                   additional_headers={"Cookie": cookie}, origin=stack.base_url, open_timeout=10)


def read_events(ws: ClientConnection, until: Callable[[dict[str, Any]], bool],
                timeout: float = 120) -> list[dict[str, Any]]:
    """Read events until `until(event)` is true for one; return all read."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        events.append(event)
        if until(event):
            return events
    raise AssertionError(f"timed out; got {[(e['seq'], e['kind'], e['data']) for e in events]}")


def is_terminal(event: dict[str, Any]) -> bool:
    return event["kind"] == "state" and event["data"]["state"] in ("succeeded", "failed", "cancelled")


def watch_to_the_end(stack: Stack, client: Client, job: Job, timeout: float = 120) -> list[dict[str, Any]]:
    """Every event of ``job`` read from its WebSocket, up to its final state."""
    with open_socket(stack, client, job) as ws:
        return read_events(ws, is_terminal, timeout)


def job_state(job: Job) -> str:
    job.refresh_from_db()
    return job.state


def finished(job: Job, timeout: float = 120) -> Job:
    """The job once the worker has ended it, which must be a success."""
    wait_for(lambda: job_state(job) in ("succeeded", "failed", "cancelled"), timeout, f"job {job.pk} to end")
    assert job.state == "succeeded", job.error
    return job


def read_sse(response: Any) -> list[tuple[int, str, dict[str, Any], float]]:
    """(id, event, data, arrival time) for each Server-Sent Event until the server ends the stream."""
    events, fields = [], {}
    for raw in response:
        line = raw.decode().rstrip("\n")
        if not line:
            if "id" in fields:
                data = json.loads(fields["data"])
                events.append((int(fields["id"]), fields["event"], data, time.monotonic()))
            fields = {}
        elif not line.startswith(":"):
            name, value = line.split(": ", 1)
            fields[name] = value
    return events
