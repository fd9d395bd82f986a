"""The invoke fast path (issue 17): an async middleware chain, the token and the routing table
remembered for a second, and the rate limit counted in one round trip."""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.test import Client
from django.utils.module_loading import import_string

from apps.api import auth, invoke, throttle
from apps.api.models import ApiToken
from apps.catalog import routing

pytestmark = pytest.mark.django_db


def test_every_middleware_can_run_async() -> None:
    """One sync-only middleware makes Django run every request's whole chain through a thread hop."""
    for path in settings.MIDDLEWARE:
        assert getattr(import_string(path), "async_capable", False), path


def test_static_files_are_still_served() -> None:
    response = Client().get(f"{settings.STATIC_URL}css/studio.css")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/css")
    assert Client().get(f"{settings.STATIC_URL}css/no-such-file.css").status_code == 404


def bad_invoke(token: str) -> int:
    """An invoke that stops at the form (no invoke server needed): 400 once the token is accepted."""
    return Client(headers={"Authorization": f"Bearer {token}"}).post(
        "/api/tools/sentiment/invoke", {"text": "?!"}, content_type="application/json").status_code


def test_a_revoked_token_stops_working_for_invokes_within_the_cache_time(alice: Any) -> None:
    row, token = ApiToken.issue(alice, "invoker")
    with mock.patch.object(auth._tokens, "seconds", 0.3):
        assert bad_invoke(token) == 400
        row.revoke()
        assert bad_invoke(token) == 400  # remembered: no query for this request
        time.sleep(0.35)
        assert bad_invoke(token) == 401


def test_the_routing_table_is_read_once_a_second() -> None:
    invoke._routes.clear()
    with mock.patch.object(invoke, "table", wraps=routing.table) as read:
        for _ in range(3):
            assert bad_invoke_routed() == {"version": None, "variant": "", "variant_id": None,
                                           "capture_rate": 0.0}
        assert read.call_count == 1


def bad_invoke_routed() -> dict[str, Any]:
    from asgiref.sync import async_to_sync

    request = mock.Mock(auth=mock.Mock(pk=1))
    result: dict[str, Any] = async_to_sync(invoke._route)("sentiment", request)
    return result


def test_the_rate_limit_slides_across_the_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.cache import cache

    cache.clear()
    limit = throttle.RateThrottle(4)
    request = mock.Mock(auth=mock.Mock(pk=7), META={"REMOTE_ADDR": "127.0.0.1"})
    clock = [600.0 * 60 + 50]  # 50 s into a minute
    monkeypatch.setattr(throttle.time, "time", lambda: clock[0])
    assert [limit.allow_request(request) for _ in range(5)] == [True] * 4 + [False]
    assert limit.wait() == 10  # seconds to the next minute
    clock[0] += 15  # 5 s into the next minute: the last one's 5 requests still weigh 5 * 55/60
    assert limit.allow_request(request) is False
    clock[0] += 45  # 50 s in: they weigh 5 * 10/60, under 1, so there is room again
    assert limit.allow_request(request) is True
    cache.clear()


async def lean_post(token: str, path: str, body: bytes, host: bytes = b"127.0.0.1"
                    ) -> tuple[int, dict[bytes, bytes], bytes]:
    """``body`` POSTed to studio.asgi.application as uvicorn would hand it over."""
    from asgiref.testing import ApplicationCommunicator

    from studio import asgi

    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
             "query_string": b"", "scheme": "http", "server": ("127.0.0.1", 80),
             "client": ("127.0.0.1", 5000), "http_version": "1.1", "asgi": {"version": "3.0"},
             "headers": [(b"authorization", f"Bearer {token}".encode()), (b"host", host),
                         (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]}
    app = ApplicationCommunicator(asgi.application, scope)
    await app.send_input({"type": "http.request", "body": body})
    start = await app.receive_output(10)
    content = await app.receive_output(10)
    await app.wait(10)  # the handler closes the response after sending it: let it finish
    return start["status"], {k.lower(): v for k, v in start["headers"]}, content["body"]


@pytest.mark.django_db(transaction=True)  # the token is read from another thread
def test_invokes_take_the_lean_asgi_chain_with_the_same_answers(alice: Any) -> None:
    from asgiref.sync import async_to_sync

    from studio import asgi

    token = ApiToken.issue(alice, "lean")[1]
    post = async_to_sync(lean_post)
    assert asgi.INVOKE_PATH.fullmatch("/api/tools/sentiment/invoke")
    assert not asgi.INVOKE_PATH.fullmatch("/api/tools/sentiment/jobs")
    status, headers, body = post(token, "/api/tools/sentiment/invoke", b'{"text": "?!"}')
    assert (status, body) == (400, b'{"detail": "The text has no words (only spaces or punctuation)."}')
    assert headers[b"x-content-type-options"] == b"nosniff"  # the security headers still come
    status, _, _ = post(token, "/api/tools/sentiment/invoke", b'{"text": "' + b"x" * 70_000 + b'"}')
    assert status == 413  # the size limits still hold
    status, _, _ = post(token, "/api/tools/sentiment/invoke", b'{"text": "?!"}', b"evil.example")
    assert status == 400  # and ALLOWED_HOSTS


@pytest.mark.django_db(transaction=True)
def test_the_lean_chain_closes_in_a_thread_only_after_a_database_query(alice: Any) -> None:
    """request_finished closes the connections a request opened, in the thread that opened them;
    when it opened none (the token remembered), it runs in the event loop: no thread hop."""
    import threading

    from asgiref.sync import async_to_sync
    from django.core.signals import request_finished
    from django.db import connection
    from django.db.backends.signals import connection_created

    token = ApiToken.issue(alice, "closing")[1]
    threads: list[bool] = []
    loop_thread: list[threading.Thread] = []

    def finished(**kwargs: Any) -> None:
        threads.append(threading.current_thread() is loop_thread[0])

    def look_up_in_a_fresh_thread(key: str) -> Any:
        # In a server each request's first query opens a connection in a new thread; here the
        # test's own connection may already be open, so say so as Django would.
        connection_created.send(sender=type(connection), connection=connection)
        return look_up(key)

    async def two_posts() -> None:
        loop_thread.append(threading.current_thread())
        for _ in range(2):
            assert (await lean_post(token, "/api/tools/sentiment/invoke", b'{"text": "?!"}'))[0] == 400

    look_up = auth._look_up
    request_finished.connect(finished)
    try:
        with mock.patch.object(auth._tokens, "seconds", 60), \
                mock.patch.object(auth, "_look_up", look_up_in_a_fresh_thread):
            async_to_sync(two_posts)()
    finally:
        request_finished.disconnect(finished)
    assert threads == [False, True]  # the first looked the token up; the second remembered it


def test_invokes_count_against_the_rate_limit_without_ninjas_sync_throttle(alice: Any) -> None:
    from django.core.cache import cache

    from apps.api.api import api as ninja_api
    from tests.apps.api.test_api import SilentRedis

    cache.clear()
    token = ApiToken.issue(alice, "counted")[1]
    client = Client(headers={"Authorization": f"Bearer {token}"})
    with mock.patch.object(ninja_api.throttle, "num_requests", 2), \
            mock.patch("apps.api.invoke._client", return_value=SilentRedis()):
        answers = [client.post("/api/tools/sentiment/invoke", {"text": "fine"},
                               content_type="application/json") for _ in range(3)]
    assert [a.status_code for a in answers] == [504, 504, 429]  # no server: 504; then the limit
    assert 0 < int(answers[2]["Retry-After"]) <= 60 and answers[2].json() == {"detail": "Too many requests."}
    cache.clear()
