"""An admin may upload a checkpoint in a family's public format: the catalog imports it (in the
validating worker) and stores the studio checkpoint it made, named and hashed."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from apps.catalog import services
from apps.catalog.models import ModelVersion
from tests.ml.fast_style.reference import reference, save_old_style
from tests.ml.textgen.udacity import save_udacity, udacity_net

pytestmark = pytest.mark.django_db


def upload(family: str, path: Path) -> ModelVersion:
    version = services.add_version(family, path.stem, io.BytesIO(path.read_bytes()), path.name)
    return services.validate_version(version)


def test_a_udacity_char_rnn_file_is_imported(tmp_path: Path) -> None:
    version = upload("textgen", save_udacity(udacity_net(), tmp_path / "rnn_20_epoch.net"))
    assert version.validation == "valid", version.validation_errors
    assert version.source == "imported" and version.source_ref.startswith("uploaded rnn_20_epoch.net sha256:")
    assert version.config["n_hidden"] == 32 and version.config["n_layers"] == 2


def test_a_fast_neural_style_file_is_imported_and_named_after_it(tmp_path: Path) -> None:
    save_old_style(reference(), tmp_path / "candy.pth")
    version = upload("fast-style", tmp_path / "candy.pth")
    assert version.validation == "valid", version.validation_errors
    assert version.config["kind"] == "transformer-net" and version.config["styles"] == ["candy"]
    services.activate(version)
    assert services.active_version("fast-style") == version
