"""The family contract's validation, on a toy family."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ml.common.family import Family, validate


@dataclass
class ToyConfig:
    width: int = 4


def _toy_family() -> Family:
    return Family(name="toy", config_class=ToyConfig,
                  build=lambda cfg: nn.Linear(3, cfg.width),
                  example_input=lambda cfg: torch.ones(1, 3))


def _checkpoint(**state: torch.Tensor) -> dict:
    base = nn.Linear(3, 4).state_dict()
    base.update(state)
    return {"config": {"width": 4}, "state_dict": base}


def test_it_accepts_a_fitting_checkpoint() -> None:
    report = validate(_toy_family(), _checkpoint())
    assert report.ok and report.output_shape == (1, 4) and report.parameters == 16


def test_it_lists_missing_unexpected_and_misshapen_keys() -> None:
    ckpt = _checkpoint(weight=torch.zeros(5, 3), extra=torch.zeros(1))
    del ckpt["state_dict"]["bias"]
    report = validate(_toy_family(), ckpt)
    assert not report.ok
    text = " | ".join(report.errors)
    assert "missing keys: bias" in text
    assert "unexpected keys: extra" in text
    assert "shape mismatch for weight: checkpoint (5, 3), model (4, 3)" in text


def test_it_rejects_nan_weights() -> None:
    report = validate(_toy_family(), _checkpoint(weight=torch.full((4, 3), float("nan"))))
    assert not report.ok and "non-finite values (NaN/inf) in weight" in report.errors


def test_it_rejects_unknown_config_keys() -> None:
    ckpt = _checkpoint()
    ckpt["config"]["depth"] = 3
    report = validate(_toy_family(), ckpt)
    assert not report.ok and "unknown toy config keys: depth" in report.errors[0]
