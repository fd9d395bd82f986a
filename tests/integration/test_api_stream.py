"""The API on the real path: a token-authenticated submit to daphne, the job run by the real
Celery worker, and its Server-Sent Events read from daphne while it runs; a second stream resumes
from Last-Event-ID and gets exactly the rest."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from apps.api.models import ApiToken
from tests.integration.helpers import read_sse

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def request(stack: Any, token: str, path: str, data: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> Any:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(stack.base_url + path, data=body,
                                 headers={"Authorization": f"Bearer {token}", **(headers or {})})
    return urllib.request.urlopen(req, timeout=60)


def test_a_job_submitted_through_the_api_streams_its_events_live(stack: Any) -> None:
    user = get_user_model().objects.create_user("api-user", password="pw-for-tests-1")
    token = ApiToken.issue(user, "integration")[1]
    made = request(stack, token, "/api/tools/sleep/jobs",
                   {"params": json.dumps({"steps": 8, "step_seconds": 0.25})})
    assert made.status == 201
    job = json.loads(made.read())
    started = time.monotonic()
    with request(stack, token, job["events_url"]) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events = read_sse(stream)
    ids = [e[0] for e in events]
    assert ids == list(range(1, len(ids) + 1))  # every event, in order, none twice
    states = [e[2]["data"]["state"] for e in events if e[1] == "state"]
    assert states == ["queued", "running", "succeeded"]
    steps = [e[2]["data"]["step"] for e in events if e[1] == "progress"]
    assert steps and steps == sorted(steps) and steps[-1] == 8
    # Live, not replayed at the end: the progress events arrived spread over the job's ~2 s.
    arrivals = [e[3] - started for e in events if e[1] == "progress"]
    assert arrivals[-1] - arrivals[0] > 0.5, arrivals

    with request(stack, token, job["events_url"], headers={"Last-Event-ID": str(ids[2])}) as again:
        rest = read_sse(again)
    assert [e[0] for e in rest] == ids[3:]
    final = json.loads(request(stack, token, f"/api/jobs/{job['id']}").read())
    assert final["state"] == "succeeded" and final["last_seq"] == ids[-1]
