"""Where files go (studio/settings.py storages_from_env): the local disk under MEDIA_ROOT unless
STUDIO_S3_BUCKET is set, then django-storages' S3 backend with private objects, short-lived
presigned URLs, unique names for job and catalog files and an overwriting "work" storage for
training checkpoints; manage.py ensure_storage makes the local folder."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.core.management import call_command

from studio.settings import storages_from_env

DISK = "django.core.files.storage.FileSystemStorage"


def test_without_a_bucket_files_stay_on_the_local_disk() -> None:
    assert storages_from_env({}) == {"default": {"BACKEND": DISK},
                                     "work": {"BACKEND": DISK, "OPTIONS": {"allow_overwrite": True}}}


def test_a_bucket_makes_every_file_go_to_s3_privately() -> None:
    stores = storages_from_env({"STUDIO_S3_BUCKET": "media", "STUDIO_S3_ENDPOINT_URL": "http://s3:8333",
                                "STUDIO_S3_PREFIX": "/studio-a/", "AWS_ACCESS_KEY_ID": "k",
                                "AWS_SECRET_ACCESS_KEY": "s"})
    default, work = stores["default"], stores["work"]
    assert default["BACKEND"] == work["BACKEND"] == "storages.backends.s3.S3Storage"
    options = default["OPTIONS"]
    assert {k: options[k] for k in ("bucket_name", "endpoint_url", "location", "addressing_style",
                                    "access_key", "secret_key", "region_name")} == {
        "bucket_name": "media", "endpoint_url": "http://s3:8333", "location": "studio-a",
        "addressing_style": "path", "access_key": "k", "secret_key": "s", "region_name": "us-east-1"}
    assert options["default_acl"] is None and options["querystring_auth"] is True
    assert options["querystring_expire"] == 300
    assert (options["file_overwrite"], work["OPTIONS"]["file_overwrite"]) == (False, True)
    assert {k: v for k, v in work["OPTIONS"].items() if k != "file_overwrite"} == \
        {k: v for k, v in options.items() if k != "file_overwrite"}


def test_on_aws_the_keys_may_come_from_elsewhere() -> None:
    stores = storages_from_env({"STUDIO_S3_BUCKET": "media", "STUDIO_S3_REGION": "eu-west-1"})
    options = stores["default"]["OPTIONS"]
    assert options["endpoint_url"] is None and options["addressing_style"] is None
    assert options["region_name"] == "eu-west-1"
    assert "access_key" not in options and "secret_key" not in options


def test_ensure_storage_makes_the_local_media_folder(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    out = io.StringIO()
    call_command("ensure_storage", stdout=out)
    assert out.getvalue() == f"media: the local disk at {tmp_path / 'media'}, ready\n"
    assert (tmp_path / "media").is_dir()
