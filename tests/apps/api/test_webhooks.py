"""Webhooks: a job submitted with a webhook URL gets one signed POST when it ends (after the
commit that ends it), retried when the receiver fails; a bad URL is refused at submit."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from unittest import mock

import pytest
from django.test import Client

from apps.api import webhooks
from apps.api.models import ApiToken, Webhook
from apps.jobs import runner, services
from apps.jobs.models import Job

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP server that answers with the given statuses in turn and keeps what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.got = statuses, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(autouse=True)
def local_receivers_allowed(settings: Any) -> None:
    """The receivers here listen on 127.0.0.1, which webhooks refuse by default (SSRF)."""
    settings.STUDIO_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.server.shutdown()


def submit(client: Client, **extra: str) -> Any:
    params = json.dumps({"steps": 2, "step_seconds": 0})
    return client.post("/api/tools/sleep/jobs", {"params": params, **extra})


def test_a_finished_job_posts_a_signed_webhook(alice: Any, receiver: Receiver,
                                               django_capture_on_commit_callbacks: Any) -> None:
    row, token = ApiToken.issue(alice, "hooks")
    made = submit(Client(headers={"Authorization": f"Bearer {token}"}), webhook=receiver.url)
    assert made.status_code == 201
    job = Job.objects.get()
    with mock.patch("apps.api.tasks.deliver_webhook.apply_async") as queued:
        with django_capture_on_commit_callbacks(execute=True):
            runner.run(str(job.pk), job.task_id, "worker-a")
    webhook = Webhook.objects.get(job=job)
    queued.assert_called_once_with(args=[webhook.pk], queue="cpu")  # queued once, when it ended
    from apps.api.tasks import deliver_webhook

    deliver_webhook.apply(args=[webhook.pk])
    (headers, body), = receiver.got
    expected = "sha256=" + hmac.new(row.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Studio-Signature"] == expected and headers["X-Studio-Event"] == "job.finished"
    sent = json.loads(body)
    assert sent["job"]["id"] == str(job.pk) and sent["job"]["state"] == "succeeded"
    webhook.refresh_from_db()
    assert webhook.delivered_at is not None and (webhook.attempts, webhook.last_status) == (1, 200)


def test_a_failed_delivery_is_retried_then_delivered(alice: Any) -> None:
    receiver = Receiver([500, 503])
    try:
        row, _ = ApiToken.issue(alice, "hooks")
        job = Job.objects.create(owner=alice, kind="sleep", params={}, state="succeeded")
        webhook = Webhook.objects.create(job=job, token=row, url=receiver.url)
        with pytest.raises(webhooks.DeliveryError, match="HTTP 500"):
            webhooks.deliver(webhook)
        from apps.api.tasks import deliver_webhook

        with mock.patch.object(deliver_webhook, "retry", side_effect=RuntimeError("retry")) as retry:
            with pytest.raises(RuntimeError, match="retry"):
                deliver_webhook.run(webhook.pk)
        assert retry.call_args.kwargs["countdown"] == webhooks.RETRY_DELAYS_S[0]
        webhook.refresh_from_db()
        assert webhooks.deliver(webhook) == 200
        webhook.refresh_from_db()
        assert (webhook.attempts, webhook.last_status, webhook.last_error) == (3, 200, "")
        assert len(receiver.got) == 3
    finally:
        receiver.server.shutdown()


def test_a_cancelled_queued_job_also_calls_back(alice: Any, django_capture_on_commit_callbacks: Any) -> None:
    _, token = ApiToken.issue(alice, "hooks")
    submit(Client(headers={"Authorization": f"Bearer {token}"}), webhook="https://example.org/hook")
    with mock.patch("apps.api.tasks.deliver_webhook.apply_async") as queued:
        with django_capture_on_commit_callbacks(execute=True):
            services.request_cancel(Job.objects.get())
    webhook = Webhook.objects.get(job__state="cancelled")
    assert webhook.url == "https://example.org/hook" and webhook.delivered_at is None
    queued.assert_called_once_with(args=[webhook.pk], queue="cpu")


@pytest.mark.parametrize("url", ["not a url", "ftp://example.org/x", "javascript:alert(1)"])
def test_a_bad_webhook_url_is_refused(alice: Any, url: str) -> None:
    _, token = ApiToken.issue(alice, "hooks")
    response = submit(Client(headers={"Authorization": f"Bearer {token}"}), webhook=url)
    assert response.status_code == 400 and response.json() == {
        "detail": "webhook must be an http(s) URL", "errors": {"webhook": ["Enter a valid URL."]}}
    assert not Job.objects.exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/x", "http://10.1.2.3/hook", "http://169.254.169.254/latest",
                                 "http://[::1]/x"])
def test_webhooks_to_internal_addresses_are_refused(alice: Any, settings: Any, url: str) -> None:
    settings.STUDIO_WEBHOOK_ALLOW_PRIVATE = False
    _, token = ApiToken.issue(alice, "hooks")
    response = submit(Client(headers={"Authorization": f"Bearer {token}"}), webhook=url)
    assert response.status_code == 400 and "internal address" in response.json()["detail"]
    assert not Job.objects.exists()


def test_a_name_resolving_inside_is_refused_at_delivery_without_retries(alice: Any, settings: Any) -> None:
    settings.STUDIO_WEBHOOK_ALLOW_PRIVATE = False
    row, _ = ApiToken.issue(alice, "hooks")
    job = Job.objects.create(owner=alice, kind="sleep", params={}, state="succeeded")
    webhook = Webhook.objects.create(job=job, token=row, url="http://localhost:9/hook")
    from apps.api.tasks import deliver_webhook

    with mock.patch.object(deliver_webhook, "retry") as retry:
        deliver_webhook.run(webhook.pk)
    retry.assert_not_called()
    webhook.refresh_from_db()
    assert "internal address" in webhook.last_error and webhook.delivered_at is None and webhook.attempts == 0
