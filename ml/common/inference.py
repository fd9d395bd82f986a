"""Inference-only copies of a loaded model, built once per model and reused by every call.

The studio's entry points (fast style, CycleGAN, DCGAN) run the same weights many times in a worker
whose model cache keeps the model; on the CPU a copy rearranged for inference (batch norm folded
into the convolution before it, weights and activations channels-last for oneDNN) is measurably
faster than the module as trained (bench/image_tools.py prints both). The copy is built on the
first call and kept on the model itself, outside its submodules (so not in its state_dict), and goes
when the model goes (the model cache evicts, then collects). It is rebuilt when the model's weights
change: training previews call the same entry points with a net whose parameters the optimizer
updates in place between calls.

Only the CPU gets copies: on CUDA the entry points run the model itself (cuDNN has its own choices,
and nothing here was measured there).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

M = TypeVar("M", bound=nn.Module)
Fingerprint = tuple[object, ...]

ATTRIBUTE = "_studio_inference_copy"  # (fingerprint, copy) in the model's __dict__
_lock = threading.Lock()  # a worker may run jobs in threads: one build per model, not one per thread


def fingerprint(model: nn.Module) -> Fingerprint:
    """What a copy depends on: each tensor's storage and in-place version (an optimizer step,
    load_state_dict or .to() changes one of them) and the train/eval mode."""
    tensors = [*model.parameters(), *model.buffers()]
    return (model.training, *((t.data_ptr(), t._version) for t in tensors))


def inference_copy(model: M, build: Callable[[M], nn.Module], device: torch.device) -> nn.Module:
    """``build(model)`` on the CPU, built on the first call and reused while the weights stay the
    same; the model itself on any other device."""
    if device.type != "cpu":
        return model
    key = fingerprint(model)
    with _lock:
        cached = model.__dict__.get(ATTRIBUTE)
        if cached is not None and cached[0] == key:
            built: nn.Module = cached[1]
            return built
        forget(model)  # before building: a deep copy of the model would copy its old copy too
        with torch.no_grad():
            built = build(model)
        # Straight into __dict__: nn.Module.__setattr__ would register the copy as a submodule.
        model.__dict__[ATTRIBUTE] = (key, built)
        return built


def forget(model: nn.Module) -> None:
    """Drop ``model``'s copy, if it has one."""
    model.__dict__.pop(ATTRIBUTE, None)


def fold_batch_norm(model: M) -> M:
    """A deep copy of the eval-mode ``model`` in which every (transposed) convolution followed by a
    BatchNorm2d inside an nn.Sequential carries the norm in its own weights and bias, the norm
    replaced by Identity: one pass over the activations fewer per layer, same function."""
    folded = copy.deepcopy(model).eval()
    for seq in folded.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        for i in range(len(seq) - 1):
            conv, norm = seq[i], seq[i + 1]
            if isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)) and isinstance(norm, nn.BatchNorm2d) \
                    and norm.track_running_stats:
                seq[i] = fuse_conv_bn_eval(conv, norm, transpose=isinstance(conv, nn.ConvTranspose2d))
                seq[i + 1] = nn.Identity()
    return folded


def channels_last(model: M) -> M:
    """``model`` with its 4-d weights in channels-last order (in place): oneDNN's NHWC kernels then
    take them without a reorder per call, and a channels-last output feeds the next layer as is."""
    return model.to(memory_format=torch.channels_last)
