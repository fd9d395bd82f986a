"""The REST API with tokens: the OpenAPI schema is served and every documented operation is walked
with a token; no token, a wrong one or a revoked one is a 401; another user's job is a 404;
submitting goes through the tool's own form (same defaults and refusals as the submit page); the
event stream replays in order and resumes from Last-Event-ID."""

from __future__ import annotations

import base64
import io
import json
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from PIL import Image

from apps.api import invoke
from apps.api.models import ApiToken
from apps.jobs import runner
from apps.jobs.models import Job, JobState
from tests.conftest import PASSWORD, free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(alice: Any) -> str:
    return ApiToken.issue(alice, "tests")[1]


def api(token: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(headers=headers)


def submit_sleep(client: Client, **params: Any) -> Any:
    settings = {"steps": 3, "step_seconds": 0, **params}
    return client.post("/api/tools/sleep/jobs", {"params": json.dumps(settings)})


def png_bytes(size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, format="PNG")
    return buffer.getvalue()


class FakeRedis:
    """Stands in for the batching server: answers every invoke at once (the real one is in
    tests/integration/test_invoke.py and tests/apps/serving/test_invoke_server.py)."""

    async def rpush(self, key: str, value: str) -> None:
        self.queue, self.pushed = key, json.loads(value)

    async def blpop(self, keys: list[str], timeout: float) -> tuple[str, str] | None:
        if self.queue.endswith(":sentiment"):
            reply = {"label": "positive", "probability": 0.9, "model": "sentiment/v1", "batch": 1}
        else:
            reply = {"png": base64.b64encode(png_bytes()).decode(), "model": "x/v1", "batch": 1}
        return keys[0], json.dumps(reply)


class SilentRedis(FakeRedis):
    async def blpop(self, keys: list[str], timeout: float) -> tuple[str, str] | None:
        return None


def one_style() -> Any:
    """The fast-style form as if a network with one style, "starry", were active."""
    return mock.patch("apps.tools.fast_style.active_styles", return_value=(mock.Mock(), ["starry"]))


def sse(response: Any) -> list[dict[str, Any]]:
    """The events of a finished stream: [{"id", "event", "data"}]. The stream is an async iterator
    (what ASGI streams as it goes), read to its end here."""

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    text = async_to_sync(read)().decode()
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if fields:
            events.append({"id": int(fields["id"]), "event": fields["event"],
                           "data": json.loads(fields["data"])})
    return events


def test_the_openapi_schema_is_served_and_every_operation_works_with_a_token(
        alice: Any, token: str, apply_async: mock.MagicMock, django_capture_on_commit_callbacks: Any) -> None:
    schema = Client().get("/api/openapi.json").json()
    documented = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    walked: set[tuple[str, str]] = set()
    client = api(token)

    tools = client.get("/api/tools")
    walked.add(("GET", "/api/tools"))
    assert tools.status_code == 200
    sleep = next(t for t in tools.json() if t["slug"] == "sleep")
    assert {p["name"]: p["type"] for p in sleep["params"]}["steps"] == "integer"

    with django_capture_on_commit_callbacks(execute=True):
        made = submit_sleep(client)
    walked.add(("POST", "/api/tools/{slug}/jobs"))
    assert made.status_code == 201, made.content
    job = made.json()
    assert job["state"] == "queued" and job["params"]["steps"] == 3
    assert apply_async.call_args.kwargs["queue"] == "cpu"

    runner.run(job["id"], Job.objects.get(pk=job["id"]).task_id, "worker-a")

    listed = client.get("/api/jobs")
    walked.add(("GET", "/api/jobs"))
    assert listed.json()["count"] == 1 and listed.json()["jobs"][0]["id"] == job["id"]

    detail = client.get(f"/api/jobs/{job['id']}")
    walked.add(("GET", "/api/jobs/{job_id}"))
    body = detail.json()
    assert body["state"] == "succeeded" and body["result"] == {"steps": 3}
    result = next(f for f in body["files"] if f["role"] == "result")

    file = client.get(result["url"])
    walked.add(("GET", "/api/jobs/{job_id}/files/{file_id}"))
    assert file.status_code == 200 and b"".join(file.streaming_content) == b"slept 3 steps\n"

    stream = client.get(body["events_url"])
    walked.add(("GET", "/api/jobs/{job_id}/events"))
    assert stream["Content-Type"] == "text/event-stream"
    events = sse(stream)
    assert [e["id"] for e in events] == list(range(1, body["last_seq"] + 1))  # all, in order
    assert events[-1]["event"] == "state" and events[-1]["data"]["data"]["state"] == "succeeded"

    rated = client.post(f"/api/jobs/{job['id']}/rating", {"rating": "up"}, content_type="application/json")
    walked.add(("POST", "/api/jobs/{job_id}/rating"))
    assert rated.status_code == 200 and rated.json()["rating"] == "up"

    cancelled = client.post(f"/api/jobs/{submit_sleep(client).json()['id']}/cancel")
    walked.add(("POST", "/api/jobs/{job_id}/cancel"))
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"

    again = client.post(f"/api/jobs/{job['id']}/rerun")
    walked.add(("POST", "/api/jobs/{job_id}/rerun"))
    assert again.status_code == 201 and again.json()["id"] != job["id"]
    assert again.json()["params"] == job["params"]

    assert client.post(f"/api/jobs/{job['id']}/resume").status_code == 404  # not a stopped training
    with mock.patch("apps.jobs.services.can_resume", return_value=True):  # as if it had a checkpoint
        resumed = client.post(f"/api/jobs/{cancelled.json()['id']}/resume")
    walked.add(("POST", "/api/jobs/{job_id}/resume"))
    assert resumed.status_code == 201 and resumed.json()["params"]["resume_from"] == cancelled.json()["id"]

    failed = {"failed": [{"row": 2, "reason": "empty text"}]}
    batch = Job.objects.create(owner=alice, kind="sentiment-batch", params={"column": "text"},
                               state=JobState.SUCCEEDED, result=failed)
    retried = client.post(f"/api/jobs/{batch.pk}/retry",
                          {"csv": SimpleUploadedFile("fixed.csv", b"text\na fine film\n", "text/csv")})
    walked.add(("POST", "/api/jobs/{job_id}/retry"))
    assert retried.status_code == 201, retried.content
    assert retried.json()["params"] == {"column": "text", "continue_from": str(batch.pk)}
    assert client.post(f"/api/jobs/{job['id']}/retry").status_code == 404  # no failed items

    with mock.patch("apps.api.invoke._client", return_value=FakeRedis()):
        scored = client.post("/api/tools/sentiment/invoke", {"text": "a fine film"},
                             content_type="application/json")
    walked.add(("POST", "/api/tools/sentiment/invoke"))
    assert scored.status_code == 200 and scored.json()["label"] == "positive"

    with mock.patch("apps.api.invoke._client", return_value=FakeRedis()):
        faces = client.post("/api/tools/dcgan/invoke", {"n": 4, "seed": 7}, content_type="application/json")
    walked.add(("POST", "/api/tools/dcgan/invoke"))
    assert faces.status_code == 200 and faces["Content-Type"] == "image/png", faces.content
    assert faces["X-Studio-Seed"] == "7" and faces.content == png_bytes()

    with mock.patch("apps.api.invoke._client", return_value=FakeRedis()), one_style():
        painted = client.post("/api/tools/fast-style/invoke", {
            "photo": SimpleUploadedFile("p.png", png_bytes((40, 30)), "image/png"), "style": "starry",
            "max_side": 128})
    walked.add(("POST", "/api/tools/fast-style/invoke"))
    assert painted.status_code == 200 and painted["Content-Type"] == "image/png", painted.content
    assert painted.content == png_bytes()  # what the serving process answered

    assert walked == documented, f"operations not walked: {documented - walked}"


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Bearer st_" + "x" * 43, "Basic abc"])
def test_requests_without_a_valid_token_get_401(header: str | None, alice: Any) -> None:
    job = Job.objects.create(owner=alice, kind="sleep", params={})
    client = Client(headers={"Authorization": header} if header else {})
    for response in (client.get("/api/tools"), client.get("/api/jobs"), client.get(f"/api/jobs/{job.pk}"),
                     client.post("/api/tools/sleep/jobs", {"params": "{}"})):
        assert response.status_code == 401, response.content
    assert Job.objects.count() == 1


def test_a_revoked_token_stops_working(alice: Any) -> None:
    row, token = ApiToken.issue(alice, "laptop")
    assert api(token).get("/api/jobs").status_code == 200
    row.revoke()
    assert api(token).get("/api/jobs").status_code == 401


def test_another_users_job_is_a_404_everywhere(alice: Any, bob: Any, token: str) -> None:
    theirs = Job.objects.create(owner=bob, kind="sleep", params={})
    client = api(token)
    assert client.get(f"/api/jobs/{theirs.pk}").status_code == 404
    assert client.post(f"/api/jobs/{theirs.pk}/cancel").status_code == 404
    assert client.get(f"/api/jobs/{theirs.pk}/events").status_code == 404
    assert client.get(f"/api/jobs/{theirs.pk}/files/1").status_code == 404
    for action in ("rerun", "resume", "retry"):
        assert client.post(f"/api/jobs/{theirs.pk}/{action}").status_code == 404, action
    assert client.get("/api/jobs").json()["count"] == 0
    theirs.refresh_from_db()
    assert theirs.cancel_requested_at is None


def test_submitting_uses_the_tools_form(token: str) -> None:
    client = api(token)
    bad = submit_sleep(client, steps=0)
    assert bad.status_code == 400 and bad.json() == {
        "detail": "Invalid parameters or files.",
        "errors": {"steps": ["Ensure this value is greater than or equal to 1."]}}
    not_json = client.post("/api/tools/sleep/jobs", {"params": "{not json"})
    assert not_json.status_code == 400 and not_json.json()["detail"].startswith("params is not JSON: ")
    a_list = client.post("/api/tools/sleep/jobs", {"params": "[1]"})
    assert a_list.status_code == 400 and a_list.json()["detail"] == "params must be a JSON object"
    nope = client.post("/api/tools/nope/jobs", {"params": "{}"})
    assert nope.status_code == 404 and nope.json() == {"detail": "No tool 'nope'; GET /api/tools lists them."}
    not_an_image = SimpleUploadedFile("photo.png", b"not a png", "image/png")
    refused = client.post("/api/tools/cyclegan/jobs", {"params": "{}", "photo": not_an_image})
    assert refused.status_code == 400
    assert refused.json()["errors"]["photo"] == ["photo.png: not an image (unrecognised file format)"]
    assert not Job.objects.exists()
    ticked = submit_sleep(client, steps=2, fail=True)
    assert ticked.status_code == 201 and ticked.json()["params"]["fail"] is True  # JSON true: a ticked box


def test_the_event_stream_resumes_after_the_last_event_seen(alice: Any, token: str) -> None:
    made = submit_sleep(api(token))
    runner.run(made.json()["id"], Job.objects.get().task_id, "worker-a")
    job = Job.objects.get()
    url = f"/api/jobs/{job.pk}/events"
    tail = sse(api(token).get(url, headers={"Last-Event-ID": "3"}))
    assert [e["id"] for e in tail] == list(range(4, job.last_seq + 1))
    assert [e["id"] for e in sse(api(token).get(url + "?after=5"))] == list(range(6, job.last_seq + 1))
    assert job.state == JobState.SUCCEEDED


def test_the_browser_session_is_not_an_api_login(alice: Any) -> None:
    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    assert client.get("/api/jobs").status_code == 401  # only tokens: no cookie, so nothing to forge


def test_tokens_are_made_shown_once_and_revoked_in_the_account_page(alice: Any, bob: Any) -> None:
    client = Client()
    client.login(username="alice", password=PASSWORD)
    page = client.post("/accounts/tokens/", {"name": "nightly script"}).content.decode()
    row = ApiToken.objects.get(user=alice)
    shown = page.split('id="new-token-value">', 1)[1].split("<", 1)[0]
    assert shown.startswith(row.shown) and api(shown).get("/api/jobs").status_code == 200
    again = client.get("/accounts/tokens/").content.decode()
    assert shown not in again and "nightly script" in again  # listed, never shown again
    other = Client()
    other.login(username="bob", password=PASSWORD)
    assert other.post(f"/accounts/tokens/{row.pk}/revoke/").status_code == 404  # not bob's
    client.post(f"/accounts/tokens/{row.pk}/revoke/")
    assert api(shown).get("/api/jobs").status_code == 401


def test_too_many_active_jobs_is_a_429_with_retry_after(alice: Any, token: str, settings: Any) -> None:
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 2
    client = api(token)
    assert [submit_sleep(client).status_code for _ in range(2)] == [201, 201]
    refused = submit_sleep(client)
    assert refused.status_code == 429 and refused["Retry-After"] == "30"
    assert "limit is 2" in refused.json()["detail"]
    web = Client()
    web.login(username="alice", password=PASSWORD)
    page = web.post("/tools/sleep/", {"steps": 1, "step_seconds": 0})
    assert page.status_code == 429 and page["Retry-After"] == "30" and "limit is 2" in page.content.decode()
    assert Job.objects.count() == 2
    Job.objects.filter(pk=Job.objects.first().pk).update(state=JobState.SUCCEEDED)  # one finished
    assert submit_sleep(client).status_code == 201


def test_too_many_requests_a_minute_is_a_429_with_retry_after(alice: Any, bob: Any) -> None:
    from django.core.cache import cache

    from apps.api.api import api as ninja_api

    cache.clear()
    throttle = ninja_api.throttle
    with mock.patch.object(throttle, "num_requests", 3):
        alices, bobs = api(ApiToken.issue(alice, "a")[1]), api(ApiToken.issue(bob, "b")[1])
        assert [alices.get("/api/jobs").status_code for _ in range(3)] == [200, 200, 200]
        refused = alices.get("/api/jobs")
        assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
        assert bobs.get("/api/jobs").status_code == 200  # counted per user
    cache.clear()


def test_invoke_refuses_bad_text_and_says_when_no_server_answers(token: str) -> None:
    client = api(token)
    for body, status, detail in [
        ({"text": "?!"}, 400, "The text has no words (only spaces or punctuation)."),
        ({"text": "word " * 5000}, 400, "Ensure this value has at most 20000 characters (it has 24999)."),
        ({"text": "x" * 70_000}, 413, "the request is over 65,536 bytes"),
    ]:
        refused = client.post("/api/tools/sentiment/invoke", body, content_type="application/json")
        assert (refused.status_code, refused.json()) == (status, {"detail": detail}), body
    no_text = client.post("/api/tools/sentiment/invoke", {}, content_type="application/json")
    assert no_text.status_code == 422 and no_text.json()["detail"][0]["loc"][-1] == "text"
    with mock.patch("apps.api.invoke._client", return_value=SilentRedis()):
        late = client.post("/api/tools/sentiment/invoke", {"text": "fine"}, content_type="application/json")
    assert late.status_code == 504 and "serve_invoke" in late.json()["detail"]
    # Redis not answering at all (restarting): a 503 that says so, not a 500.
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(REDIS_URL=nobody), mock.patch.dict(invoke._clients, clear=True):
        down = client.post("/api/tools/sentiment/invoke", {"text": "fine"}, content_type="application/json")
    assert down.status_code == 503 and down.json()["detail"].startswith("the invoke queue (Redis) is not "
                                                                       "reachable (Error 111 connecting")
    assert down.json()["detail"].endswith("try again in a few seconds")
    assert Client().post("/api/tools/sentiment/invoke", {"text": "fine"},
                         content_type="application/json").status_code == 401


def test_the_image_invokes_refuse_what_a_job_should_do(token: str) -> None:
    client = api(token)
    many = client.post("/api/tools/dcgan/invoke", {"n": 17}, content_type="application/json")
    assert many.status_code == 400 and "at most 16" in many.json()["detail"]
    negative = client.post("/api/tools/dcgan/invoke", {"seed": -1}, content_type="application/json")
    assert negative.status_code == 400
    assert negative.json()["detail"] == "seed: Ensure this value is greater than or equal to 0."
    with one_style():
        large = client.post("/api/tools/fast-style/invoke", {
            "photo": SimpleUploadedFile("p.png", png_bytes(), "image/png"), "style": "starry",
            "max_side": 1024})
        assert large.status_code == 400 and "at most 512" in large.json()["detail"]
        broken = client.post("/api/tools/fast-style/invoke", {
            "photo": SimpleUploadedFile("p.png", b"not a picture", "image/png"), "style": "starry"})
        assert broken.status_code == 400
        assert broken.json()["detail"] == "photo: p.png: not an image (unrecognised file format)"
        unknown = client.post("/api/tools/fast-style/invoke", {
            "photo": SimpleUploadedFile("p.png", png_bytes(), "image/png"), "style": "cubist"})
        assert unknown.status_code == 400
        choice = "Select a valid choice. cubist is not one of the available choices."
        assert unknown.json()["detail"] == f"style: {choice}"
        fake = FakeRedis()
        with mock.patch("apps.api.invoke._client", return_value=fake):
            blend = client.post("/api/tools/fast-style/invoke", {
                "photo": SimpleUploadedFile("p.png", png_bytes(), "image/png"), "blend": "starry=2"})
        assert blend.status_code == 200
        assert fake.queue == "studio:invoke:fast-style" and fake.pushed["styles"] == {"starry": 2.0}
        assert fake.pushed["version"] is None  # no endpoint: the active version answers
    no_model = client.post("/api/tools/fast-style/invoke", {
        "photo": SimpleUploadedFile("p.png", png_bytes(), "image/png"), "style": "starry"})
    assert no_model.status_code == 400 and "install the starter models" in no_model.json()["detail"]
