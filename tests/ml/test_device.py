from __future__ import annotations

import pytest
import torch

from ml.common.device import pick_device


def test_it_defaults_to_cuda_when_available_else_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device().type == expected


def test_env_overrides_the_preference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    assert pick_device("cuda") == torch.device("cpu")


def test_it_refuses_cuda_when_there_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        pick_device("cuda")
