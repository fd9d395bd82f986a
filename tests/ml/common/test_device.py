from __future__ import annotations

import pytest
import torch

from ml.common.device import CudaMemory, cuda_memory, pick_device


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


def test_cuda_memory_is_empty_without_cuda_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: pytest.fail("must not touch CUDA"))
    assert cuda_memory() == []


def test_cuda_memory_reads_each_device(monkeypatch: pytest.MonkeyPatch) -> None:
    class Props:
        def __init__(self, i: int) -> None:
            self.total_memory = 1000 + i

    for name, value in [("is_initialized", lambda: True), ("device_count", lambda: 2),
                        ("memory_allocated", lambda i: 10 + i), ("memory_reserved", lambda i: 20 + i),
                        ("max_memory_allocated", lambda i: 30 + i), ("get_device_properties", Props)]:
        monkeypatch.setattr(torch.cuda, name, value)
    assert cuda_memory() == [CudaMemory(index=0, allocated=10, reserved=20, peak=30, total=1000),
                             CudaMemory(index=1, allocated=11, reserved=21, peak=31, total=1001)]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_memory_counts_a_real_tensor() -> None:
    x = torch.empty(1 << 20, dtype=torch.uint8, device="cuda")  # 1 MiB
    (first, *_) = cuda_memory()
    assert first.allocated >= x.numel() and first.reserved >= first.allocated
    assert first.peak >= first.allocated and first.total > first.reserved
