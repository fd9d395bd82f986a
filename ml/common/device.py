"""Which torch device ml code runs on."""

from __future__ import annotations

import os

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
