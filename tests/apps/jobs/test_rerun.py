"""'Run again with these settings': same tool, parameters, seed and inputs; only for the owner."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from apps.jobs.models import Job, JobFile
from tests.apps.conftest import make_job
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db


def finished_style_job(owner: Any) -> Job:
    job = make_job(owner, kind="style", state="succeeded", params={"steps": 7, "seed": 42, "max_side": 64})
    for field in ("content", "style"):
        f = JobFile(job=job, role=JobFile.Role.INPUT, field=field, name=f"{field}.png",
                    content_type="image/png")
        f.file.save(f"{field}.png", ContentFile(png_bytes()), save=True)
    return job


def test_it_runs_the_same_settings_and_inputs_again(alice: Any, alice_client: Client, apply_async: Any,
                                                    django_capture_on_commit_callbacks: Any) -> None:
    old = finished_style_job(alice)
    page = alice_client.get(f"/jobs/{old.pk}/").content.decode()
    assert f"/jobs/{old.pk}/rerun/" in page and "Run again with these settings" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/jobs/{old.pk}/rerun/")
    new = Job.objects.exclude(pk=old.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{new.pk}/"
    assert (new.kind, new.params, new.seed, new.state) == ("style", old.params, 42, "queued")
    inputs = {f.field: f.file.read() for f in new.files.filter(role=JobFile.Role.INPUT)}
    assert inputs == {"content": png_bytes(), "style": png_bytes()}
    apply_async.assert_called_once_with(args=[str(new.pk)], queue="gpu", task_id=new.task_id)


def test_another_user_cannot_rerun_it(alice: Any, bob_client: Client) -> None:
    old = finished_style_job(alice)
    assert bob_client.post(f"/jobs/{old.pk}/rerun/").status_code == 404
    assert bob_client.get(f"/jobs/{old.pk}/rerun/").status_code == 405  # POST only, whoever asks
    assert Job.objects.count() == 1
