"""The sweep: a version whose validation was lost (its worker killed, its machine gone, its task
message dropped) ends ``invalid`` or gets its task again, and two sweepers never both act."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.catalog import services
from apps.catalog.models import ModelVersion
from apps.catalog.sweep import claim_resend, end_stale, end_stale_validations, stale_message
from tests.apps.catalog.conftest import tiny_checkpoint

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tiny_family")]

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.get_current_timezone())
MESSAGE = ("validation did not finish within 90 s: the worker may have run out of memory or been lost; "
           "upload it again or ask an admin to re-validate")


def version(*, started: float | None = None, queued: float | None = None, created: float = 3600,
            validation: str = "pending") -> ModelVersion:
    """A version as the sweep finds it; times in seconds before NOW."""
    added = services.add_version("dcgan", "v", io.BytesIO(tiny_checkpoint()), "v.pt")
    ModelVersion.objects.filter(pk=added.pk).update(
        validation=validation, created_at=NOW - timedelta(seconds=created),
        validation_started_at=None if started is None else NOW - timedelta(seconds=started),
        validation_queued_at=None if queued is None else NOW - timedelta(seconds=queued))
    return added


def state(v: ModelVersion) -> ModelVersion:
    return ModelVersion.objects.get(pk=v.pk)


@pytest.fixture
def sent() -> Any:
    with mock.patch("apps.catalog.tasks.validate_version.apply_async") as apply_async:
        yield apply_async


@pytest.fixture
def sweep(django_capture_on_commit_callbacks: Any) -> Callable[[datetime], int]:
    """end_stale_validations with its after-commit sends run, as outside a test's transaction."""
    def run(now: datetime) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return end_stale_validations(now)
    return run


# --- validations that began and never finished ----------------------------------------------------


def test_a_validation_begun_more_than_90_s_ago_ends_invalid(sweep: Any, sent: Any) -> None:
    lost, running = version(started=91), version(started=89)
    assert sweep(NOW) == 1
    assert (state(lost).validation, state(lost).validation_errors, state(lost).validated_at) == (
        "invalid", MESSAGE, NOW)
    assert state(running).validation == "pending" and state(running).validation_errors == ""
    assert sweep(NOW + timedelta(seconds=2)) == 1  # 91 s for the other one now
    assert state(running).validation == "invalid"
    sent.assert_not_called()


def test_finished_versions_are_left_alone(sweep: Any) -> None:
    done = [version(started=86_400, validation=v) for v in ("valid", "invalid")]
    assert sweep(NOW) == 0
    assert [state(v).validation for v in done] == ["valid", "invalid"]
    assert [state(v).validation_errors for v in done] == ["", ""]


def test_the_timeout_is_a_setting_and_the_message_says_it(settings: Any, sweep: Any) -> None:
    settings.STUDIO_VALIDATION_TIMEOUT_S = 30
    lost = version(started=31)
    assert sweep(NOW) == 1
    assert state(lost).validation_errors == stale_message(30) == MESSAGE.replace("90 s", "30 s")


def test_a_worker_killed_mid_validation_leaves_it_pending_only_until_the_sweep(sweep: Any) -> None:
    """The worker recorded the start, then died (here: the checks never return a verdict)."""
    lost = services.add_version("dcgan", "v", io.BytesIO(tiny_checkpoint()), "v.pt")

    class Killed(BaseException):  # not an Exception: nothing in the worker may catch it
        pass

    with mock.patch("apps.catalog.services._checked_file", side_effect=Killed), pytest.raises(Killed):
        services.validate_version(lost)
    started = state(lost).validation_started_at
    assert state(lost).validation == "pending" and state(lost).validation_attempts == 1
    assert sweep(started + timedelta(seconds=90)) == 0  # not more than 90 s yet
    assert sweep(started + timedelta(seconds=91)) == 1 and state(lost).validation == "invalid"


def test_two_sweepers_never_both_end_a_version() -> None:
    """Both read the version as stale; only the first conditional UPDATE matches."""
    lost = version(started=91)
    cutoff = NOW - timedelta(seconds=90)
    assert end_stale(lost.pk, cutoff, NOW, MESSAGE) is True
    assert end_stale(lost.pk, cutoff, NOW + timedelta(seconds=1), "another sweeper") is False
    assert state(lost).validation_errors == MESSAGE and state(lost).validated_at == NOW


def test_a_validation_that_finished_or_began_again_meanwhile_is_not_ended() -> None:
    """Read as stale, then its verdict landed or a new attempt began before the UPDATE."""
    finished, restarted = version(started=91), version(started=91)
    ModelVersion.objects.filter(pk=finished.pk).update(validation="valid")
    ModelVersion.objects.filter(pk=restarted.pk).update(validation_started_at=NOW)
    cutoff = NOW - timedelta(seconds=90)
    assert not end_stale(finished.pk, cutoff, NOW, MESSAGE)
    assert not end_stale(restarted.pk, cutoff, NOW, MESSAGE)
    assert state(finished).validation == "valid" and state(restarted).validation == "pending"


# --- validations that never began: the message was lost --------------------------------------------


def test_a_lost_task_is_sent_again_once_per_timeout(sweep: Any, sent: Any) -> None:
    lost = version(queued=91)
    assert sweep(NOW) == 0  # nothing ended: sent again
    sent.assert_called_once_with(args=[lost.pk], kwargs={"resent": True}, queue="cpu")
    assert state(lost).validation_queued_at == NOW and state(lost).validation == "pending"
    sweep(NOW + timedelta(seconds=30))
    assert sent.call_count == 1  # not again within the timeout
    sweep(NOW + timedelta(seconds=91))
    assert sent.call_count == 2


def test_a_version_never_sent_counts_from_when_it_was_added(sweep: Any, sent: Any) -> None:
    old, new = version(created=91), version(created=60)
    sweep(NOW)
    sent.assert_called_once_with(args=[old.pk], kwargs={"resent": True}, queue="cpu")
    assert state(new).validation_queued_at is None


def test_a_task_sent_lately_or_a_validation_begun_is_not_sent_again(sweep: Any, sent: Any) -> None:
    version(queued=30)
    version(queued=600, started=30)
    version(queued=600, validation="valid")
    assert sweep(NOW) == 0
    sent.assert_not_called()


def test_two_sweepers_never_both_send_it() -> None:
    lost = version(queued=91)
    read = state(lost).validation_queued_at
    assert claim_resend(lost.pk, read, NOW) is True
    assert claim_resend(lost.pk, read, NOW + timedelta(seconds=1)) is False  # what it read has moved
    assert state(lost).validation_queued_at == NOW


# --- the admin: queued times, and a new file starts afresh -----------------------------------------


def form(data: bytes, name: str = "uploaded") -> dict[str, Any]:
    return {"family": "dcgan", "name": name, "description": "", "source": "uploaded", "licence": "",
            "metrics": "{}", "previews-TOTAL_FORMS": 0, "previews-INITIAL_FORMS": 0,
            "checkpoint": SimpleUploadedFile("netG.pt", data)}


def test_a_new_file_in_the_admin_starts_afresh(admin_client: Any, sweep: Any, sent: Any) -> None:
    """A version that failed a day ago gets a new file: pending, not begun, queued now, so the sweep
    does not end it for its old start."""
    old = version(started=86_400, validation="invalid")
    ModelVersion.objects.filter(pk=old.pk).update(validation_attempts=3)
    with mock.patch("django.db.transaction.on_commit", lambda fn, *a, **k: fn()):
        response = admin_client.post(f"/admin/catalog/modelversion/{old.pk}/change/",
                                     form(tiny_checkpoint(seed=1)))
    assert response.status_code == 302, response.content[:3000]
    fresh = state(old)
    assert (fresh.validation, fresh.validation_started_at, fresh.validation_attempts) == ("pending", None, 0)
    assert fresh.validation_queued_at is not None
    assert timezone.now() - fresh.validation_queued_at < timedelta(minutes=1)
    sent.assert_called_once_with(args=[old.pk], queue="cpu")
    assert sweep(timezone.now()) == 0 and state(old).validation == "pending"


def test_validate_again_in_the_admin_notes_when_it_was_sent(admin_client: Any, sent: Any) -> None:
    done = version(started=86_400, validation="valid")
    with mock.patch("django.db.transaction.on_commit", lambda fn, *a, **k: fn()):
        admin_client.post("/admin/catalog/modelversion/",
                          {"action": "revalidate", "_selected_action": [done.pk]})
    sent.assert_called_once_with(args=[done.pk], queue="cpu")
    assert state(done).validation_queued_at is not None
