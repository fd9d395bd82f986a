"""DCGAN checkpoint files for the catalog's validation tests: the real layer layout at an eighth of
its width (fast), saved as the studio saves it, with any tensor or the config replaced by a hostile
one."""

from __future__ import annotations

import io
from typing import Any

import torch

from ml.common.checkpoint import checkpoint_dict
from ml.dcgan.config import DCGANConfig

CONFIG = DCGANConfig(ngf=8)


def dcgan_file(state: dict[str, torch.Tensor], *, config: dict[str, Any] | None = None,
               **replace: torch.Tensor) -> bytes:
    """A studio checkpoint of ``state``; ``replace`` swaps tensors in after checkpoint_dict (which
    would make them contiguous copies), ``config`` the saved config dict."""
    payload = checkpoint_dict(family="dcgan", config=CONFIG, state_dict=state)
    payload["state_dict"].update(replace)
    if config is not None:
        payload["config"] = config
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()
