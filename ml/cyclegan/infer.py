"""A CycleGAN generator from its checkpoint (``load``), and translating one image with it at its own
size: whole, or in blended tiles."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ml.common.family import Source, load_model
from ml.common.images import image_to_tensor, tensor_to_image
from ml.common.inference import SpaceToDepthConv2d, channels_last, fold_batch_norm, inference_copy
from ml.common.progress import NullProgress, Progress, check_cancelled
from ml.common.winograd import WinogradConv3x3
from ml.cyclegan.config import ALIGN
from ml.cyclegan.family import FAMILY
from ml.cyclegan.model import ResnetBlock, ResnetGenerator


def load(source: Source, device: torch.device | str = "cpu", *, validate: bool = True) -> ResnetGenerator:
    """A "cyclegan" studio checkpoint (dict or file; public files go through formats.import_cyclegan
    first) -> eval-mode generator on ``device``; see ml.common.family.load_model."""
    return load_model(FAMILY, source, ResnetGenerator, device=device, validate=validate)


@torch.inference_mode()
def translate_tensor(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) in [-1, 1], any H and W, on the model's device -> the output, same size.

    The generator needs sides that are multiples of 4: reflect-pad the bottom/right edge up to the
    next multiple (at least 8, so instance norm at the 1/4-size bottleneck sees more than one pixel),
    then crop the output back.
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = max(8, h + -h % ALIGN) - h, max(8, w + -w % ALIGN) - w
    if pad_h or pad_w:
        # Reflection needs the pad to be smaller than the side; 1-3 px images fall back to replicate.
        mode = "reflect" if pad_h < h and pad_w < w else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)  # (1, C, H', W'), H' and W' multiples of 4
    y: torch.Tensor = model(x)
    return y[..., :h, :w]


@torch.inference_mode()
def translate(model: nn.Module, image: Image.Image, device: torch.device | str = "cpu") -> Image.Image:
    """Any-size RGB image -> translated image of the same size, in one forward pass."""
    model.eval()
    model.to(device)
    net = inference_copy(model, fast_generator, torch.device(device))  # built once per model on the CPU
    x = image_to_tensor(image).to(device) * 2 - 1  # (1, 3, H, W) in [-1, 1]
    return tensor_to_image((translate_tensor(net, x) + 1) / 2)


def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) of the tiles covering ``length`` pixels along one side.

    Tiles are at most ``tile`` long (the last may be up to 3 px shorter) and neighbours share at
    least ``overlap`` pixels. Every start is a multiple of 4, so each tile's strided convolutions
    sample the same pixels as they would in the whole image; spacing is spread evenly, so no thin
    sliver of a tile is left at the end.
    """
    if tile < 16 or not 0 <= overlap <= tile // 2:
        raise ValueError(f"need tile >= 16 and 0 <= overlap <= tile / 2, got tile {tile}, overlap {overlap}")
    if length <= tile:
        return [(0, length)]
    step = (tile - overlap) // ALIGN  # the largest spacing, in units of 4 px, that keeps the overlap
    span = math.ceil((length - tile) / ALIGN)  # where the last tile starts, in units of 4 px
    gaps = math.ceil(span / step)
    starts = [ALIGN * (i * span // gaps) for i in range(gaps + 1)]
    return [(s, min(s + tile, length)) for s in starts]


def _ramp(start: int, end: int, length: int, overlap: int) -> torch.Tensor:
    """One tile's blending weight along one side: rising linearly over ``overlap`` pixels at each
    end that has a neighbour, 1 elsewhere. Never 0, so every pixel has some weight."""
    weight = torch.ones(end - start)
    n = min(overlap, (end - start) // 2)
    if n:
        rise = torch.arange(1, n + 1, dtype=torch.float32) / (n + 1)
        if start > 0:
            weight[:n] = rise
        if end < length:
            weight[-n:] = rise.flip(0)
    return weight


@torch.inference_mode()
def translate_tiled(model: nn.Module, image: Image.Image, tile: int = 512, overlap: int = 32,
                    device: torch.device | str = "cpu", progress: Progress | None = None) -> Image.Image:
    """Like ``translate``, but one ``tile``-sized piece at a time, so memory stays bounded for
    large images.

    Each tile is translated on its own (padded as ``translate`` pads) and neighbours overlap by at
    least ``overlap`` px. The overlaps are cross-faded with linear ramps: every tile's weight falls
    towards its inner edges, where reflect padding and its own instance-norm statistics make it
    differ most from its neighbour, so the result has no visible seams. Reports each tile through
    ``progress`` and stops with Cancelled between tiles when asked to.
    """
    progress = progress or NullProgress()
    model.eval()
    model.to(device)
    net = inference_copy(model, fast_generator, torch.device(device))  # built once per model on the CPU
    x = image_to_tensor(image) * 2 - 1  # (1, 3, H, W) in [-1, 1], kept on the CPU
    h, w = x.shape[-2:]
    rows, cols = tile_spans(h, tile, overlap), tile_spans(w, tile, overlap)
    total = len(rows) * len(cols)
    out: torch.Tensor | None = None  # (1, C_out, H, W): sum of weighted tile outputs
    weights = torch.zeros(1, 1, h, w)  # sum of the weights, to normalise by
    done = 0
    for top, bottom in rows:
        wy = _ramp(top, bottom, h, overlap)
        for left, right in cols:
            check_cancelled(progress)
            y = translate_tensor(net, x[..., top:bottom, left:right].to(device)).float().cpu()
            if out is None:
                out = torch.zeros(1, y.shape[1], h, w)
            weight = wy[:, None] * _ramp(left, right, w, overlap)[None, :]  # (tile h, tile w)
            out[..., top:bottom, left:right] += y * weight
            weights[..., top:bottom, left:right] += weight
            done += 1
            progress.update(done, total, f"Tile {done} of {total}")
    assert out is not None  # tile_spans always gives at least one tile per side
    return tensor_to_image((out / weights + 1) / 2)

# The CPU inference copy: measured on 2 cores (bench/image_tools.py), the 9-block generator spends
# two thirds of its time in the residual trunk's 3x3 convolutions, which oneDNN already runs near
# the cores' peak, so layout tricks alone gave ~0.9x. The copy computes those convolutions with
# Winograd (ml/common/winograd.py), keeps every activation channels-last, normalises with the
# channels-last batch-norm kernel, and does ReLU, the residual add and tanh in place: 0.53x the
# plain forward. Batch-norm generators run as they are (nothing here was measured for them).
MIN_WINOGRAD = 8  # residual-trunk side (image side / 4) from which the blocks use WinogradConv3x3


def instance_norm(x: torch.Tensor, norm: nn.InstanceNorm2d, relu: bool) -> torch.Tensor:
    """nn.InstanceNorm2d (no running stats), then ReLU in place when ``relu``. For one image the
    per-channel statistics are batch statistics, and F.batch_norm has a channels-last kernel;
    InstanceNorm2d itself reshapes to (1, B*C, H, W), which copies a channels-last tensor."""
    if x.shape[0] == 1:
        x = F.batch_norm(x, None, None, norm.weight, norm.bias, True, 0.0, norm.eps)
    else:
        x = F.instance_norm(x, weight=norm.weight, bias=norm.bias, eps=norm.eps)
    return x.relu_() if relu else x


def _reflect(x: torch.Tensor, pad: nn.Module) -> torch.Tensor:
    assert isinstance(pad, nn.ReflectionPad2d)
    return F.pad(x, pad.padding, mode="reflect")


class FastResnetGenerator(nn.Module):
    """An instance-norm ResnetGenerator's forward as described in the module docstring; owns
    channels-last copies of the generator's modules (the model itself is left as it is)."""

    def __init__(self, model: ResnetGenerator) -> None:
        super().__init__()
        layers = list(channels_last(fold_batch_norm(model)).model)
        blocks = [i for i, layer in enumerate(layers) if isinstance(layer, ResnetBlock)]
        self.head = nn.ModuleList(layers[:blocks[0]])  # pad, c7s1, norm, relu, 2 x (down, norm, relu)
        self.blocks = nn.ModuleList(_Block(layers[i]) for i in blocks)  # type: ignore[arg-type]
        self.tail = nn.ModuleList(layers[blocks[-1] + 1:])  # 2 x (up, norm, relu), pad, c7s1, tanh
        last = self.tail[-2]
        if isinstance(last, nn.Conv2d) and last.out_channels < 16 and last.stride == (1, 1):
            self.tail[-2] = SpaceToDepthConv2d(last)  # 3 output channels leave oneDNN's lanes idle

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, in, H, W) NCHW -> (B, out, H, W) NCHW
        x = _sequence(self.head, x.contiguous(memory_format=torch.channels_last))
        for block in self.blocks:
            x = block(x)
        out: torch.Tensor = _sequence(self.tail, x)
        return out.contiguous()


class _Block(nn.Module):
    """x + F(x) of one ResnetBlock, with its two 3x3 convolutions in Winograd form."""

    def __init__(self, block: ResnetBlock) -> None:
        super().__init__()
        layers = [layer for layer in block.conv_block if not isinstance(layer, nn.Dropout)]  # eval: identity
        self.pad1, self.pad2 = layers[0], layers[4]
        self.conv1, self.conv2 = WinogradConv3x3(layers[1]), WinogradConv3x3(layers[5])  # type: ignore[arg-type]
        self.direct1, self.direct2 = layers[1], layers[5]
        self.norm1, self.norm2 = layers[2], layers[6]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Below MIN_WINOGRAD px (images under ~32 px) the plain convolutions: there speed does not
        # matter, and a near-flat map's tiny variances would magnify Winograd's extra rounding.
        small = min(x.shape[-2:]) < MIN_WINOGRAD
        conv1, conv2 = (self.direct1, self.direct2) if small else (self.conv1, self.conv2)
        y = instance_norm(conv1(_reflect(x, self.pad1)), self.norm1, relu=True)  # type: ignore[arg-type]
        y = instance_norm(conv2(_reflect(y, self.pad2)), self.norm2, relu=False)  # type: ignore[arg-type]
        return y.add_(x)  # y is this block's own tensor


def _sequence(layers: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """Run the head's or tail's layers, each norm with the ReLU after it fused in."""
    i = 0
    while i < len(layers):
        layer = layers[i]
        if isinstance(layer, nn.InstanceNorm2d):
            relu = i + 1 < len(layers) and isinstance(layers[i + 1], nn.ReLU)
            x = instance_norm(x, layer, relu)
            i += 2 if relu else 1
            continue
        if isinstance(layer, nn.ReLU):
            x = x.relu_()  # follows a conv or folded norm: its own output, free to overwrite
        elif isinstance(layer, nn.Tanh):
            x = x.tanh_()
        elif isinstance(layer, nn.ReflectionPad2d):
            x = _reflect(x, layer)
        else:
            x = layer(x)
        i += 1
    return x


def fast_generator(model: nn.Module) -> nn.Module:
    """The CPU inference copy ml.common.inference.inference_copy builds for ``model``: a
    FastResnetGenerator for an instance-norm ResnetGenerator, else the model itself."""
    if isinstance(model, ResnetGenerator) and not any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        return FastResnetGenerator(model).eval()
    return model
