"""Import public CycleGAN generator files into studio checkpoints.

Accepted (plain state_dicts, optionally wrapped in {"state_dict": ...} or with the DataParallel
``module.`` prefix), read with weights_only=True so no code runs:
- junyanz ``latest_net_G_A.pth`` / ``latest_net_G_B.pth`` / pretrained ``latest_net_G.pth``. Files
  saved by PyTorch < 0.4 carry InstanceNorm ``running_mean/running_var/num_batches_tracked`` that
  current InstanceNorm2d (track_running_stats=False) neither has nor uses: they are dropped, as
  junyanz's own loader does (``__patch_instance_norm_state_dict``).
- vintagify 0.1.2 ``G_A2B_epoch33.pth``: the same ResnetGenerator (reflect pad, 9 blocks, biased
  convs, same Sequential indices) with InstanceNorm affine=True; its residual blocks name their
  Sequential ``block`` where junyanz says ``conv_block``, so ``model.N.block.`` is renamed.
- a studio checkpoint of family "cyclegan" (returned as is).
The config (ngf, channels, n_blocks, norm, affine, dropout) is read from the keys and shapes.
"""

from __future__ import annotations

import os
import re
from typing import IO, Any

import torch

from ml.common.checkpoint import (
    DEFAULT_MAX_BYTES,
    CheckpointError,
    as_family_checkpoint,
    checkpoint_dict,
    load_any,
)
from ml.cyclegan.config import CycleGANConfig
from ml.cyclegan.model import ResnetGenerator

FAMILY = "cyclegan"
Source = str | os.PathLike[str] | IO[bytes]
_VINTAGIFY_BLOCK = re.compile(r"^model\.(\d+)\.block\.")
_RES_BLOCK = re.compile(r"^model\.(\d+)\.conv_block\.")
_RUNNING_STATS = ("running_mean", "running_var", "num_batches_tracked")


def import_cyclegan(path: Source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Read a public ResnetGenerator file and return a studio checkpoint dict (not yet validated)."""
    obj = load_any(path, max_bytes=max_bytes)
    existing = as_family_checkpoint(obj, FAMILY)
    if existing is not None:
        return existing
    state_dict, notes = _unwrap(obj)
    if any(_VINTAGIFY_BLOCK.match(k) for k in state_dict):
        state_dict = {_VINTAGIFY_BLOCK.sub(r"model.\1.conv_block.", k): v for k, v in state_dict.items()}
        notes.append("residual blocks renamed block -> conv_block (vintagify layout)")
    cfg = infer_config(state_dict)
    with torch.device("meta"):  # names and shapes only: no memory, no weight init
        expected = ResnetGenerator(cfg).state_dict()
    stale = [k for k in state_dict if k not in expected and k.rsplit(".", 1)[-1] in _RUNNING_STATS]
    if stale:
        state_dict = {k: v for k, v in state_dict.items() if k not in stale}
        notes.append(f"dropped {len(stale)} stale InstanceNorm running-stat tensors")
    extra = {"imported_from": "; ".join(notes)}
    return checkpoint_dict(family=FAMILY, config=cfg, state_dict=state_dict, extra=extra)


def _unwrap(obj: Any) -> tuple[dict[str, torch.Tensor], list[str]]:
    notes = ["plain state_dict"]
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj, notes = obj["state_dict"], ["dict with 'state_dict'"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError("not a CycleGAN generator: expected a state_dict of tensors")
    if all(k.startswith("module.") for k in obj):
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
        notes.append("DataParallel prefix removed")
    return dict(obj), notes


def infer_config(sd: dict[str, torch.Tensor]) -> CycleGANConfig:
    """Read the architecture from the keys: see model.py for where each layer sits."""
    first = sd.get("model.1.weight")
    if first is None or first.dim() != 4 or first.shape[-1] != 7:
        raise CheckpointError("not a CycleGAN ResnetGenerator: no 7x7 conv at model.1 (junyanz layout)")
    blocks = sorted({int(m.group(1)) for k in sd if (m := _RES_BLOCK.match(k))})
    if not blocks or blocks != list(range(10, 10 + len(blocks))):
        raise CheckpointError("not a CycleGAN ResnetGenerator: residual blocks not at model.10, 11, ...")
    n_blocks = len(blocks)
    last = sd.get(f"model.{17 + n_blocks}.weight")
    if last is None or last.dim() != 4:
        raise CheckpointError(f"not a CycleGAN ResnetGenerator: no output conv at model.{17 + n_blocks}")
    # Instance-norm generators give their convs a bias (junyanz use_bias); batch-norm ones do not.
    norm = "instance" if "model.1.bias" in sd else "batch"
    affine = norm == "batch" or "model.2.weight" in sd
    second = sd.get("model.10.conv_block.6.weight")  # the 2nd conv moves from index 5 to 6 with dropout
    use_dropout = second is not None and second.dim() == 4
    return CycleGANConfig(input_nc=first.shape[1], output_nc=last.shape[0], ngf=first.shape[0],
                          n_blocks=n_blocks, norm=norm, affine=affine, use_dropout=use_dropout)
