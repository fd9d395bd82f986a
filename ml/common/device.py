"""Which torch device ml code runs on, and what this process holds on the CUDA ones."""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

import torch


def pick_device(prefer: str | None = None) -> torch.device:
    """The device to run on: env STUDIO_DEVICE wins, then ``prefer``, then CUDA if present, else CPU.

    The env override exists so an operator can pin a worker to CPU (or one GPU) without code changes.
    """
    choice = os.environ.get("STUDIO_DEVICE") or prefer
    if choice and choice != "auto":
        device = torch.device(choice)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {choice!r} requested but CUDA is not available")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class CudaMemory:
    """One CUDA device's memory as this process sees it, in bytes."""

    index: int
    allocated: int  # held by live tensors
    reserved: int  # held by torch's caching allocator: allocated plus cached blocks
    peak: int  # the most ever allocated at once by this process
    total: int  # the device's capacity


def cuda_memory() -> list[CudaMemory]:
    """This process's memory on each visible CUDA device; [] when CUDA is unavailable or this process
    has not used it.

    It never initialises CUDA: in a Celery prefork parent that would leave the forked pool children
    unable to use the GPU (torch "poisons" fork), and a process that has not used CUDA holds nothing.
    The total comes from the device properties rather than mem_get_info, which would create a CUDA
    context (hundreds of MB) on every device this process has not touched.
    """
    if not torch.cuda.is_initialized():
        return []
    return [CudaMemory(index=i, allocated=torch.cuda.memory_allocated(i),
                       reserved=torch.cuda.memory_reserved(i), peak=torch.cuda.max_memory_allocated(i),
                       total=torch.cuda.get_device_properties(i).total_memory)
            for i in range(torch.cuda.device_count())]


# glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory(threshold: int = 32 << 20, keep: int = 1 << 30) -> bool:
    """Let this process reuse the memory its tensors free instead of asking the kernel again.

    By default glibc maps an allocation above a moving threshold afresh and hands the freed heap
    top back, so each forward pass meets new pages: every 4 KB one is a page fault plus zeroing.
    A CycleGAN forward at 512 px spent a quarter of its time there (bench/README.md). Here
    allocations up to ``threshold`` (glibc's largest) come from the heap, and up to ``keep`` bytes
    of freed heap stay with the process. Called once in a worker before it forks
    (apps/jobs/signals.py); False, changing nothing, where the C library is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, threshold)) and bool(mallopt(M_TRIM_THRESHOLD, keep))

