"""Jobs get the family's active version through the worker's model cache: loaded once, switched
without a restart, refused when the stored file is not the validated one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import torch
from torch import nn

from apps.catalog import loading, services
from apps.catalog.models import ModelVersion
from ml.common.model_cache import ModelCache
from tests.apps.catalog.conftest import valid_version

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tiny_family")]


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    with mock.patch.object(loading, "_cache", ModelCache(1 << 30)):
        yield


def active(seed: int, name: str) -> ModelVersion:
    version = valid_version(name, seed)
    services.activate(version)
    return version


def build(checkpoint: dict[str, Any]) -> nn.Module:
    model = nn.Linear(3, 4)
    model.load_state_dict(checkpoint["state_dict"])
    return model


def test_the_second_job_skips_loading() -> None:
    version = active(0, "first")
    first = loading.load_active("dcgan", build)
    second = loading.load_active("dcgan", build)
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert first.load_seconds > 0 and second.load_seconds == 0
    assert second.model is first.model and second.version == version
    assert second.summary() == {"id": version.pk, "label": version.label, "sha256": version.sha256,
                                "cache": "hit", "load_seconds": 0.0}


def test_activating_another_version_reaches_the_next_load() -> None:
    active(0, "first")
    before = loading.load_active("dcgan", build)
    newer = active(1, "second")
    after = loading.load_active("dcgan", build)
    assert after.version == newer and not after.cache_hit
    assert not torch.equal(after.model.weight, before.model.weight)


def test_no_active_version_is_a_clear_error() -> None:
    with pytest.raises(services.CatalogError, match="No dcgan model is active.*install_starter_models"):
        loading.load_active("dcgan", build)


def test_a_file_changed_after_validation_is_refused() -> None:
    version = active(0, "first")
    with open(version.checkpoint.path, "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(services.CatalogError, match="changed since it was validated"):
        loading.load_active("dcgan", build)
