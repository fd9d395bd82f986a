"""A tiny stand-in for a model family, for the catalog tests about versions, validation, activation
and loading rather than a real network: the ``tiny_family`` fixture puts it in place of "dcgan"."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
import torch
from torch import nn

from apps.catalog import services
from apps.catalog.models import ModelVersion
from ml.common.checkpoint import save_checkpoint
from ml.common.family import Family
from ml.families import FAMILIES


@dataclass
class TinyConfig:
    width: int = 4


@pytest.fixture
def tiny_family() -> Iterator[Family]:
    """A 3 -> width linear layer under the name "dcgan", so the tests stay fast."""
    family = Family("dcgan", TinyConfig, lambda cfg: nn.Linear(3, cfg.width), lambda cfg: torch.ones(1, 3))
    with mock.patch.dict(FAMILIES, {"dcgan": family}), mock.patch("ml.families._load_all", lambda: None):
        yield family


def tiny_checkpoint(family: str = "dcgan", state: dict[str, torch.Tensor] | None = None,
                    seed: int = 0) -> bytes:
    """A studio checkpoint of the tiny family: ``state``, or random weights from ``seed``."""
    torch.manual_seed(seed)
    state = state or nn.Linear(3, 4).state_dict()
    buffer = io.BytesIO()
    save_checkpoint(buffer, family=family, config=TinyConfig(), state_dict=state)
    return buffer.getvalue()


def valid_version(name: str, seed: int = 0, **fields: Any) -> ModelVersion:
    """A tiny-family version, added and validated as the catalog's worker leaves it."""
    data = io.BytesIO(tiny_checkpoint(seed=seed))
    return services.validate_version(services.add_version("dcgan", name, data, f"{name}.pt", **fields))
