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
import torch.nn.functional as F
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


# Convolutions with few output channels (3 or 4, as networks end) leave most of oneDNN's vector lanes
# idle: it computes 16 output channels at a time. The helpers below trade spatial positions for
# channels, so the same work fills the lanes (bench/README.md, "CPU inference").


def space_to_depth_weight(weight: torch.Tensor, s: int) -> torch.Tensor:
    """A stride-1 (Cout, Cin, k, k) convolution weight as the weight that computes the same
    convolution on ``pixel_unshuffle(x, s)``, giving ``pixel_unshuffle(output, s)``:
    (Cout*s*s, Cin*s*s, q, q) with q = ceil((k + s - 1) / s), zeros where a phase has no tap."""
    cout, cin, k, _ = weight.shape
    q = -(-(k + s - 1) // s)
    out = weight.new_zeros(cout, s, s, cin, s, s, q, q)  # (out phase a, b) x (in phase r, t)
    for a in range(s):
        for b in range(s):
            for r in range(s):
                for t in range(s):
                    for i in range(q):  # output (s*m + a) reads input (s*(m + i) + r) with tap s*i + r - a
                        ky = s * i + r - a
                        for j in range(q):
                            kx = s * j + t - b
                            if 0 <= ky < k and 0 <= kx < k:
                                out[:, a, b, :, r, t, i, j] = weight[:, :, ky, kx]
    return out.reshape(cout * s * s, cin * s * s, q, q)


def space_to_depth_conv(padded: torch.Tensor, weight: torch.Tensor, s: int, k: int) -> torch.Tensor:
    """``conv2d(padded, w)`` (stride 1, no padding, w (Cout, Cin, k, k)) given
    ``weight = space_to_depth_weight(w, s)``."""
    h, w = padded.shape[-2] - k + 1, padded.shape[-1] - k + 1
    q = weight.shape[-1]  # ceil(h / s) output blocks read ceil(h / s) + q - 1 input blocks
    extra_h = s * (-(-h // s) + q - 1) - padded.shape[-2]
    extra_w = s * (-(-w // s) + q - 1) - padded.shape[-1]
    if extra_h or extra_w:  # whole blocks only: the zeros reach only outputs cropped below
        padded = F.pad(padded, (0, extra_w, 0, extra_h))
    y = F.conv2d(F.pixel_unshuffle(padded, s), weight)
    return F.pixel_shuffle(y, s)[..., :h, :w]


def upsampled_conv_weight(weight: torch.Tensor) -> torch.Tensor:
    """A 3x3 convolution's weight (Cout, Cin, 3, 3) that runs after a nearest 2x upsample and a
    reflection pad of 1, as the weight of a 3x3 convolution on the map before the upsample, padded
    by replicating its edge, that gives the output's four phases as channels (Cout*4, Cin, 3, 3),
    ordered for ``pixel_shuffle(y, 2)``: output row 2m + a reads upsampled row 2m + a - 1 + ky,
    which is the small map's row m + floor((a - 1 + ky) / 2). A quarter of the positions to
    visit, no upsampled copy, and four times the output channels to fill the vector lanes."""
    cout, cin = weight.shape[:2]
    assert weight.shape[-2:] == (3, 3)
    out = weight.new_zeros(cout, 2, 2, cin, 3, 3)
    for a in range(2):
        for b in range(2):
            for ky in range(3):
                for kx in range(3):  # taps that land on the same source pixel add up
                    out[:, a, b, :, (a - 1 + ky) // 2 + 1, (b - 1 + kx) // 2 + 1] += weight[:, :, ky, kx]
    return out.reshape(cout * 4, cin, 3, 3)


class SpaceToDepthConv2d(nn.Module):
    """A stride-1, unpadded Conv2d with few output channels, run by ``space_to_depth_conv`` on
    ``s`` x ``s`` blocks of pixels: CycleGAN's last 7x7 convolution (64 -> 3 channels) took 117 ms
    at 512 px that way 79 ms."""

    weight: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, conv: nn.Conv2d, s: int = 2) -> None:
        super().__init__()
        assert conv.stride == (1, 1) and conv.padding == (0, 0) and conv.groups == 1
        self.s, self.k = s, conv.kernel_size[0]
        weight = space_to_depth_weight(conv.weight.detach(), s)
        self.register_buffer("weight", weight.contiguous(memory_format=torch.channels_last))
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach().reshape(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = space_to_depth_conv(x, self.weight, self.s, self.k)
        return y if self.bias is None else y.add_(self.bias)


def transposed_as_conv_weight(conv: nn.ConvTranspose2d) -> torch.Tensor:
    """A ConvTranspose2d(kernel 4, stride 2, padding 1) weight (Cin, Cout, 4, 4) as the weight of a
    3x3 convolution (padding 1) on the same input that gives the output's four phases as channels,
    (Cout*4, Cin, 3, 3), ordered for ``pixel_shuffle(y, 2)``: output row 2m + a reads input rows
    m - 1 + j with tap a + 3 - 2j, where that tap exists (two of the three)."""
    assert conv.kernel_size == (4, 4) and conv.stride == (2, 2) and conv.padding == (1, 1)
    weight = conv.weight.detach()
    cin, cout = weight.shape[:2]
    out = weight.new_zeros(cout, 2, 2, cin, 3, 3)
    for a in range(2):
        for b in range(2):
            for i in range(3):
                for j in range(3):
                    ky, kx = a + 3 - 2 * i, b + 3 - 2 * j
                    if 0 <= ky < 4 and 0 <= kx < 4:
                        out[:, a, b, :, i, j] = weight[:, :, ky, kx].T
    return out.reshape(cout * 4, cin, 3, 3)


class PackedConv(nn.Module):
    """A Conv2d or ConvTranspose2d and then ``activation`` ("relu", "tanh" or "none"), run by oneDNN
    in one call with the weight reordered once into oneDNN's own layout: the ops torch.compile's CPU
    backend uses for frozen graphs. The module alone reorders its weight on every call: 4 of 23 ms
    for DCGAN's 8 MB first block at 64 images, most of the time at one image. The packed weight
    suits any batch size (oneDNN reorders it again only if a shape needs another layout)."""

    weight: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, conv: nn.Conv2d | nn.ConvTranspose2d, input_size: list[int], activation: str) -> None:
        super().__init__()
        assert conv.groups == 1 and conv.padding_mode == "zeros"
        self.transposed = isinstance(conv, nn.ConvTranspose2d)
        padding, stride, dilation = ([int(v) for v in p] for p in (conv.padding, conv.stride, conv.dilation))
        weight = conv.weight.detach()
        mkldnn = torch.ops.mkldnn
        self.args: tuple[list[int] | int, ...]  # the op's arguments between the bias and the activation
        if self.transposed:  # its output_padding sits between padding and stride
            self.args = (padding, [int(v) for v in conv.output_padding], stride, dilation, 1)
            packed = mkldnn._reorder_convolution_transpose_weight(weight, *self.args[:4], 1, input_size)
        else:
            self.args = (padding, stride, dilation, 1)
            packed = mkldnn._reorder_convolution_weight(weight, *self.args[:3], 1, input_size)
        # Buffers so that the model cache counts them (ml.common.model_cache.tensor_bytes).
        self.register_buffer("weight", packed)
        self.register_buffer("bias", None if conv.bias is None else conv.bias.detach())
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        op = torch.ops.mkldnn._convolution_transpose_pointwise if self.transposed \
            else torch.ops.mkldnn._convolution_pointwise
        out: torch.Tensor = op(x, self.weight, self.bias, *self.args, self.activation, [], "")
        return out
