"""Storage commands against a real S3 server (SeaweedFS): purge_job_files removes old jobs' objects
and orphans from the bucket and keeps catalog objects and recent jobs' files; ensure_storage
creates a missing bucket and says in one line when the credentials are wrong."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from apps.catalog.models import ModelPreview, ModelVersion
from apps.jobs.models import Job, JobFile, JobState
from apps.jobs.purge import purge_job_files
from apps.jobs.workdir import state_key
from tests.apps.conftest import add_file, make_job
from tests.s3_server import S3Server

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PREFIX = "purge-tests"


@pytest.fixture(autouse=True)
def s3_files(s3_server: S3Server) -> Iterator[None]:
    with override_settings(STORAGES=s3_server.storages(PREFIX)):
        yield


def keys(server: S3Server, under: str = "") -> set[str]:
    return {key[len(PREFIX) + 1:] for key in server.keys(f"{PREFIX}/{under}")}


def test_purge_removes_old_job_objects_and_keeps_catalog_ones(s3_server: S3Server, alice: Any) -> None:
    old = make_job(alice, state=JobState.CANCELLED)
    Job.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=31))
    old_files = [add_file(old, role, f"{role}.png", b"o" * 100) for role in ("input", "result")]
    default_storage.save(state_key(old.pk), ContentFile(b"s" * 50))
    recent = make_job(alice, state=JobState.SUCCEEDED)
    Job.objects.filter(pk=recent.pk).update(finished_at=timezone.now() - timedelta(days=1))
    recent_file = add_file(recent, "result", "kept.png", b"k" * 10)
    orphan = default_storage.save("jobs/00000000-0000-0000-0000-000000000000/result/x.png",
                                  ContentFile(b"x" * 7))
    version = ModelVersion(family="dcgan", version=1, name="in use")
    version.checkpoint.save("weights.pt", ContentFile(b"w" * 20), save=True)
    preview = ModelPreview(version=version, label="p")
    preview.image.save("p.jpg", ContentFile(b"jpeg"), save=True)
    catalog = {version.checkpoint.name, preview.image.name}
    old_names = {f.file.name for f in old_files} | {state_key(old.pk)}
    assert old_names | {recent_file.file.name, orphan} <= keys(s3_server)
    assert catalog <= keys(s3_server, "catalog/")

    out = io.StringIO()
    call_command("purge_job_files", "--dry-run", stdout=out)
    head = out.getvalue().splitlines()[:2]
    where = f"S3 bucket 'studio' under {PREFIX}/ at {s3_server.endpoint_url}"
    assert head[0].startswith(f"{where}: jobs finished")
    assert head[1] == "  old jobs: would remove 3 files (250 bytes) and 2 file rows of 1 jobs"

    # Two hours on, the orphan is past its grace (a submit stores files before its row commits).
    report = purge_job_files(30, now=timezone.now() + timedelta(hours=2))
    assert (report.expired.objects, report.expired.bytes, report.expired.rows) == (3, 250, 2)
    assert orphan in report.orphans.names
    left = keys(s3_server)
    assert not old_names & left and orphan not in left
    assert recent_file.file.name in left and catalog <= left
    assert keys(s3_server, "jobs/") == {recent_file.file.name}
    assert not JobFile.objects.filter(job=old).exists() and Job.objects.filter(pk=old.pk).exists()


def test_ensure_storage_creates_a_missing_bucket(s3_server: S3Server) -> None:
    storages = s3_server.storages()
    for alias in ("default", "work"):
        storages[alias]["OPTIONS"]["bucket_name"] = "made-at-start-up"
    with override_settings(STORAGES=storages):
        out = io.StringIO()
        call_command("ensure_storage", stdout=out)
        call_command("ensure_storage", stdout=out)
    where = f"S3 bucket 'made-at-start-up' at {s3_server.endpoint_url}"
    assert out.getvalue().splitlines() == [f"media: created {where}", f"media: {where}, ready"]
    assert "made-at-start-up" in {b["Name"] for b in s3_server.client().list_buckets()["Buckets"]}


@pytest.mark.parametrize(("access_key", "secret_key", "code"), [
    ("not-a-key", "whatever", "InvalidAccessKeyId"),
    ("", "wrong secret", "SignatureDoesNotMatch"),  # the server's own key, a wrong secret
])
def test_wrong_credentials_are_one_clear_line(s3_server: S3Server, access_key: str, secret_key: str,
                                              code: str) -> None:
    storages = s3_server.storages()
    storages["default"]["OPTIONS"].update(access_key=access_key or s3_server.access_key,
                                          secret_key=secret_key)
    with override_settings(STORAGES=storages), pytest.raises(CommandError) as raised:
        call_command("ensure_storage")
    assert str(raised.value) == (f"S3 bucket 'studio' at {s3_server.endpoint_url}: the server refused the "
                                 f"credentials ({code}); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
