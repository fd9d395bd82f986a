"""A worker's local disk cache of checkpoints by sha256 (apps/catalog/loading.py): with files in
object storage (here Django's InMemoryStorage, which has no paths at all), a checkpoint is
downloaded once per machine and checked against its sha256 on every read; a damaged copy is
downloaded again; files on the local disk are read where they are, never copied."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from apps.catalog import loading
from apps.catalog.models import ModelVersion
from tests.apps.catalog.conftest import tiny_checkpoint, valid_version

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tiny_family")]

REMOTE = {"default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
          "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture
def cache_dir(settings: Any, tmp_path: Path) -> Path:
    settings.STUDIO_LOCAL_CACHE_DIR = tmp_path / "cache"
    return tmp_path / "cache" / "checkpoints"


@pytest.fixture
def remote() -> Iterator[None]:
    with override_settings(STORAGES=REMOTE):
        yield


@pytest.mark.usefixtures("remote")
def test_a_checkpoint_is_downloaded_once_and_checked_every_time(cache_dir: Path) -> None:
    version = valid_version("v1")
    assert version.sha256 == hashlib.sha256(tiny_checkpoint()).hexdigest()
    first = loading.read_checkpoint(version)
    cached = cache_dir / version.sha256
    assert cached.read_bytes() == tiny_checkpoint()
    assert [p.name for p in cache_dir.iterdir()] == [version.sha256]

    version.checkpoint.storage.delete(version.checkpoint.name)  # no download possible any more
    again = loading.read_checkpoint(version)
    assert again["state_dict"].keys() == first["state_dict"].keys()
    assert all((again["state_dict"][k] == first["state_dict"][k]).all() for k in first["state_dict"])


@pytest.mark.usefixtures("remote")
def test_a_damaged_copy_is_downloaded_again(cache_dir: Path) -> None:
    version = valid_version("v1")
    cache_dir.mkdir(parents=True)
    (cache_dir / version.sha256).write_bytes(b"half a file")
    loading.read_checkpoint(version)
    assert (cache_dir / version.sha256).read_bytes() == tiny_checkpoint()


@pytest.mark.usefixtures("remote")
def test_a_stored_file_that_changed_is_refused_and_not_cached(cache_dir: Path) -> None:
    version = valid_version("v1")
    ModelVersion.objects.filter(pk=version.pk).update(sha256="0" * 64)
    version.refresh_from_db()
    with pytest.raises(loading.CatalogError, match="sha256 differs"):
        loading.read_checkpoint(version)
    assert not cache_dir.exists()


def test_files_on_the_local_disk_are_not_copied(cache_dir: Path) -> None:
    loading.read_checkpoint(valid_version("v1"))
    assert not cache_dir.exists()
