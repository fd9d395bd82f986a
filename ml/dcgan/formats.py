"""Import public DCGAN generator files into studio checkpoints.

Accepted: a plain ``netG_epoch_N.pth`` state_dict (pytorch/examples; also with the ``module.``
prefix DataParallel adds), a dict holding ``netG_state_dict`` (gan-face-generate's ``weights.tar``)
or ``state_dict``, and a studio checkpoint of family "dcgan" (returned as is). nz, ngf and nc are
read from the weight shapes. Files are read with weights_only=True: no code runs.
"""

from __future__ import annotations

import os
from typing import IO, Any

import torch

from ml.common.checkpoint import (
    DEFAULT_MAX_BYTES,
    CheckpointError,
    as_family_checkpoint,
    checkpoint_dict,
    load_any,
)
from ml.dcgan.config import DCGANConfig
from ml.dcgan.model import Generator

FAMILY = "dcgan"
WRAPPER_KEYS = ("netG_state_dict", "state_dict")


Source = str | os.PathLike[str] | IO[bytes]


def import_dcgan(path: Source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Read a public DCGAN generator file and return a studio checkpoint dict (not yet validated)."""
    obj = load_any(path, max_bytes=max_bytes)
    existing = as_family_checkpoint(obj, FAMILY)
    if existing is not None:
        return existing
    state_dict, source = _unwrap(obj)
    cfg = infer_config(state_dict)
    with torch.device("meta"):  # names and shapes only: no memory, no weight init
        expected = Generator(cfg).state_dict()
    # Files from before PyTorch 0.4 lack num_batches_tracked; ours has it, so only drop what we lack.
    stale = [k for k in state_dict if k.endswith("num_batches_tracked") and k not in expected]
    state_dict = {k: v for k, v in state_dict.items() if k not in stale}
    for key in expected:
        if key.endswith("num_batches_tracked") and key not in state_dict:
            state_dict[key] = torch.tensor(0, dtype=torch.long)
    return checkpoint_dict(family=FAMILY, config=cfg, state_dict=state_dict, extra={"imported_from": source})


def _unwrap(obj: Any) -> tuple[dict[str, torch.Tensor], str]:
    source = "plain state_dict"
    if isinstance(obj, dict):
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key), dict):
                obj, source = obj[key], f"dict with {key!r}"
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError("not a DCGAN generator: expected a state_dict or a dict with 'netG_state_dict'")
    if all(k.startswith("module.") for k in obj):
        obj, source = {k.removeprefix("module."): v for k, v in obj.items()}, source + " (DataParallel)"
    return dict(obj), source


def infer_config(state_dict: dict[str, torch.Tensor]) -> DCGANConfig:
    """nz from the first transposed conv (nz, ngf*8, 4, 4), ngf and nc from the last (ngf, nc, 4, 4)."""
    first, last = state_dict.get("main.0.weight"), state_dict.get("main.12.weight")
    if first is None or last is None:
        raise CheckpointError("not a DCGAN generator: no main.0.weight / main.12.weight (pytorch/examples)")
    if first.dim() != 4 or last.dim() != 4:
        raise CheckpointError("not a DCGAN generator: main.0.weight and main.12.weight must be 4-d")
    return DCGANConfig(nz=first.shape[0], ngf=last.shape[0], nc=last.shape[1])
