"""A DCGAN generator from its checkpoint (``load``), and sampling from it: z ~ N(0, 1), batch norm in
eval mode, images in [0, 1].

``sample`` draws a grid's latents from one seed; ``latent_walk`` moves along the great circle
between two seeds' latents (the latent ``sample(n=1, seed)`` uses for each). ``grid``, ``strip``
and ``walk_gif`` turn the images into a PNG-ready picture or an animated GIF.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import torch
from PIL import Image
from torch import nn
from torchvision.utils import make_grid

from ml.common.family import Source, load_model
from ml.common.images import tensor_to_image
from ml.common.inference import (
    PackedConv,
    channels_last,
    fold_batch_norm,
    inference_copy,
    transposed_as_conv_weight,
)
from ml.common.progress import Progress, check_cancelled
from ml.dcgan.family import FAMILY
from ml.dcgan.model import Generator

# Images per forward pass: progress moves and cancellation is checked between chunks. 64 (the grid's
# default, one pass): on the CPU the channels-last copy lost more in four passes of 16 than it gained
# (bench/README.md), and 64 images take a fraction of a second, so cancel waits no longer than that.
CHUNK = 64


def load(source: Source, device: torch.device | str = "cpu", *, validate: bool = True) -> Generator:
    """A "dcgan" studio checkpoint (dict or file; public files go through formats.import_dcgan
    first) -> eval-mode generator on ``device``; see ml.common.family.load_model."""
    return load_model(FAMILY, source, Generator, device=device, validate=validate)


def draw(nz: int, n: int, seed: int) -> torch.Tensor:
    """The (n, nz, 1, 1) latents ``sample(model, n, seed)`` uses.

    z is drawn on the CPU from its own seeded generator, so the images do not depend on the device
    or on anything else that used the global RNG.
    """
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, nz, 1, 1, generator=gen)


def latents(nz: int, seeds: Sequence[int]) -> torch.Tensor:
    """(len(seeds), nz, 1, 1): each seed's latent, the one ``sample(model, 1, seed)`` uses.

    Drawn one seed at a time: the first row of ``draw(nz, 4, seed)`` is not in general the same
    numbers as ``draw(nz, 1, seed)`` (torch fills normal tensors in blocks).
    """
    return torch.cat([draw(nz, 1, seed) for seed in seeds])


@torch.inference_mode()
def generate(model: Generator, z: torch.Tensor, device: torch.device | str = "cpu", *,
             progress: Progress | None = None, chunk: int = CHUNK) -> torch.Tensor:
    """Images (N, nc, 64, 64) in [0, 1] on the CPU for latents z (N, nz, 1, 1), ``chunk`` at a time.

    In eval mode each image depends only on its own latent, so chunking does not change the images
    (tests/ml/dcgan/test_walk.py checks it). ``progress`` hears "k/N images" after each chunk and
    may cancel between chunks. On the CPU the chunks go through ``fast_generator(model)``, built once
    per model (ml.common.inference).
    """
    model.eval()  # batch norm uses its running statistics, not this batch's
    model.to(device)
    net = inference_copy(model, fast_generator, torch.device(device))
    total = z.shape[0]
    parts = []
    for start in range(0, total, chunk):
        out = net(z[start:start + chunk].to(device))  # (c, nc, 64, 64) in [-1, 1]
        # In place: one new tensor per chunk, contiguous as the callers get it (FastGenerator's already
        # is; the fallback copy's is NHWC).
        parts.append(out.add_(1).div_(2).clamp_(0, 1).contiguous().cpu())
        if progress is not None:
            done = min(start + chunk, total)
            progress.update(done, total, f"{done}/{total} images")
            check_cancelled(progress)
    return torch.cat(parts)


def fast_generator(model: Generator) -> nn.Module:
    """The CPU copy ``generate`` runs (``FastGenerator``), the same images within float rounding
    (tests/ml/dcgan/test_walk.py). Without oneDNN (PackedConv's ops), the folded channels-last model."""
    if not torch.backends.mkldnn.is_available():
        return channels_last(fold_batch_norm(model))
    return FastGenerator(model)


class FastGenerator(nn.Module):
    """A generator's function for inference on the CPU, with batch norm folded into the transposed
    convolutions before it and every activation channels-last (oneDNN's NHWC kernels), and two
    layers in a form that suits two cores better than a transposed convolution:

    - the first (a latent to a 4x4 map) is one matrix product, written straight in NHWC order;
    - the stride-2 blocks keep their weights in oneDNN's layout (``PackedConv``);
    - the last (to 3 channels: 3 of 16 vector lanes busy, a seventh of the time) is a 3x3
      convolution that computes the output's four phases as 12 channels, with the tanh fused.

    Measured in bench/image_tools.py against the generator's own forward."""

    first: torch.Tensor  # (nz, 4 * 4 * C)
    first_bias: torch.Tensor  # (4 * 4 * C,)

    def __init__(self, model: Generator) -> None:
        super().__init__()
        layers = list(fold_batch_norm(model).main)
        first, last = layers[0], layers[-2]
        assert isinstance(first, nn.ConvTranspose2d) and isinstance(last, nn.ConvTranspose2d)
        assert first.bias is not None  # the folded batch norm's shift
        nz, self.width = first.in_channels, first.out_channels
        # (nz, C, 4, 4) -> (nz, 4 * 4 * C): z @ it is the 4x4 map, channels last.
        # Buffers so that the model cache counts them (ml.common.model_cache.tensor_bytes).
        self.register_buffer("first", first.weight.detach().permute(0, 2, 3, 1).reshape(nz, -1).contiguous())
        self.register_buffer("first_bias", first.bias.detach().repeat(16))
        side, self.middle = 4, nn.Sequential()
        for conv in layers[3:-2:3]:  # the folded stride-2 blocks, weights laid out for CHUNK images
            assert isinstance(conv, nn.ConvTranspose2d)
            self.middle.append(PackedConv(conv, [CHUNK, conv.in_channels, side, side], "relu"))
            side *= 2
        phases = nn.Conv2d(last.in_channels, 4 * last.out_channels, 3, padding=1, bias=False)
        phases.weight.data = transposed_as_conv_weight(last)
        self.last = PackedConv(phases, [CHUNK, last.in_channels, side, side], "tanh")
        self.channels = last.out_channels

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, nz, 1, 1) -> (B, nc, S, S) in [-1, 1]
        b = z.shape[0]
        y = torch.addmm(self.first_bias, z.reshape(b, -1), self.first).relu_()
        y = y.view(b, 4, 4, self.width).permute(0, 3, 1, 2)  # a channels-last view
        y = self.last(self.middle(y))  # (B, nc * 4, S/2, S/2), channels-last
        # The four phases to their places in one copy, in NCHW order (what the callers keep).
        side = y.shape[-1]
        phases = y.permute(0, 2, 3, 1).view(b, side, side, self.channels, 2, 2)
        return phases.permute(0, 3, 1, 4, 2, 5).reshape(b, self.channels, 2 * side, 2 * side)


def sample(model: Generator, n: int, seed: int, device: torch.device | str = "cpu", *,
           progress: Progress | None = None) -> torch.Tensor:
    """``n`` images (n, nc, 64, 64) in [0, 1] on the CPU; the same seed gives the same images."""
    return generate(model, draw(model.nz, n, seed), device, progress=progress)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from ``a`` (t=0) to ``b`` (t=1): one result per t, stacked.

    Why not a straight line: a 100-d Gaussian latent almost always has a norm near sqrt(100) = 10,
    and the generator only ever saw such latents. The midpoint of the straight line between two of
    them has a norm near 10 / sqrt(2), a latent the generator never saw (faded, blurry faces).
    The great circle keeps the norm, so every frame is a plausible latent (White 2016, "Sampling
    generative networks").
    """
    a64, b64, t64 = a.double().flatten(), b.double().flatten(), t.double()
    cos = torch.dot(a64, b64) / (a64.norm() * b64.norm())
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:  # (nearly) the same direction: the circle is a line here
        wa, wb = 1.0 - t64, t64
    else:
        wa, wb = torch.sin((1.0 - t64) * omega) / omega.sin(), torch.sin(t64 * omega) / omega.sin()
    out = wa[:, None] * a64[None] + wb[:, None] * b64[None]  # (T, numel)
    return out.to(a.dtype).reshape(len(t), *a.shape)


def latent_walk(model: Generator, seed_a: int, seed_b: int, steps: int,
                device: torch.device | str = "cpu", *, progress: Progress | None = None) -> torch.Tensor:
    """``steps`` images (steps, nc, 64, 64) in [0, 1] from seed_a's face to seed_b's, along the slerp
    between their latents; frame 0 is ``sample(model, 1, seed_a)``, the last ``sample(model, 1, seed_b)``."""
    if steps < 2:
        raise ValueError(f"a latent walk needs at least 2 steps, got {steps}")
    za, zb = latents(model.nz, [seed_a, seed_b])
    z = slerp(za, zb, torch.linspace(0, 1, steps))  # (steps, nz, 1, 1)
    return generate(model, z, device, progress=progress)


def grid(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> Image.Image:
    """(N, 3, H, W) in [0, 1] -> one PIL image, ``nrow`` images per row."""
    return tensor_to_image(make_grid(images, nrow=nrow, padding=padding))


def square_nrow(n: int) -> int:
    """Images per row for a square-ish grid of ``n``."""
    return math.ceil(math.sqrt(n))


def strip(frames: torch.Tensor, padding: int = 2) -> Image.Image:
    """A walk's frames (T, 3, H, W) side by side in one row."""
    return grid(frames, nrow=len(frames), padding=padding)


def walk_gif(frames: torch.Tensor, duration_ms: int = 120, scale: int = 2, *,
             pingpong: bool = False) -> bytes:
    """An animated, endlessly looping GIF of the frames (T, 3, H, W) in [0, 1], each ``duration_ms``
    long and ``scale`` times larger (nearest neighbour: the 64 px pixels stay sharp).

    ``pingpong`` plays the frames forward then back (2T - 2 frames, the ends not doubled), so the
    loop has no jump from the last face back to the first. Pillow merges consecutive identical
    frames, so a walk that does not move (the same seed twice) gives fewer frames.
    """
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    images = [tensor_to_image(f) for f in frames]
    if scale != 1:
        images = [im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST) for im in images]
    if pingpong and len(images) > 2:
        images += images[-2:0:-1]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=duration_ms, loop=0)
    return buffer.getvalue()
