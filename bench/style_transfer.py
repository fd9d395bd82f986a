"""Style transfer speed: a plain reference loop vs the studio's stylize, same net, same loss.

    python -m bench.style_transfer [--size 256] [--ref-steps 500] [--studio-steps 300]

1. Reference: the Udacity notebook loop, faithfully. Adam lr 0.003 on the ImageNet-normalised image,
   alpha 1, beta 1e6, Udacity layer weights, the *full* feature network run every step (no
   truncation), content features and style Grams computed once (as the notebook does), N steps.
2. Studio: ``ml.style.infer.stylize`` (L-BFGS, truncated net, coarse-to-fine), cold Gram cache.
   Its fine-scale steps report the full-resolution total loss (the same Objective, same weights);
   the clock stops at the first one at or below the reference's final loss.

Both run on the same machine and the same feature network: EfficientNet-Lite0 offline, VGG19 when
real weights are found locally. Images: scikit-image's astronaut + a texture when scikit-image is
installed, else a synthetic scene and a synthetic texture. The last run is in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from bench.style_images import bench_images
from ml.common.images import image_to_tensor
from ml.common.progress import Cancelled
from ml.features.formats import lite0_weights_path
from ml.features.infer import load_feature_network
from ml.features.model import EfficientNetLite0, FeatureNet, MBConvBlock
from ml.style.config import StyleConfig
from ml.style.infer import stylize
from ml.style.model import GRAM_CACHE, Objective, gram

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


class FullNetwork(torch.nn.Module):
    """The untruncated feature network, run to its end each step like the notebook's VGG loop,
    returning the same taps as the studio's FeatureNet (checked equal below)."""

    def __init__(self, network: str, studio_net: FeatureNet) -> None:
        super().__init__()
        self.studio_net = studio_net
        self.taps: dict[str, torch.Tensor] = {}
        if network == "vgg19":  # all 37 layers of vgg19.features, as the notebook runs them
            from torchvision.models import vgg19

            from ml.common.checkpoint import load_state_dict_file
            from ml.features.formats import local_weights_path
            from ml.features.model import VGG19_LAYERS

            vgg = vgg19(weights=None)
            vgg.load_state_dict(load_state_dict_file(str(local_weights_path())))
            self.body = (
                torch.nn.Sequential(
                    *[torch.nn.ReLU() if isinstance(m, torch.nn.ReLU) else m for m in vgg.features]
                )
                .eval()
                .requires_grad_(False)
            )
            for name, idx in VGG19_LAYERS.items():
                self.body[idx + 1].register_forward_hook(self._hook(name))
        else:
            from ml.common.checkpoint import load_state_dict_file
            from ml.features.model import LITE0_LAYERS

            model = EfficientNetLite0()
            model.load_state_dict(load_state_dict_file(lite0_weights_path()))
            model.eval().requires_grad_(False)
            self.model = model
            for name, (kind, i) in LITE0_LAYERS.items():
                bn = model._bn0 if kind == "stem" else cast(MBConvBlock, model._blocks[i])._bn0
                bn.register_forward_hook(self._hook(name, relu6=True))

    def _hook(self, name: str, relu6: bool = False) -> Callable[..., None]:
        def hook(_m: torch.nn.Module, _i: object, out: torch.Tensor) -> None:
            self.taps[name] = F.relu6(out) if relu6 else out

        return hook

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.taps = {}
        h = self.studio_net.normalise(x)
        if hasattr(self, "model"):
            self.model(h)  # stem, all 16 blocks, head and classifier
        else:
            self.body(h)
        return dict(self.taps)


def per_step_seconds(
    full: torch.nn.Module, objective: Objective, content: Image.Image, rounds: int = 5
) -> tuple[float, float]:
    """Median forward+backward time of each loop's step, interleaved so both see the same load
    (the machine is shared; whole-run times alone would mix in other processes' work)."""
    x = image_to_tensor(content).requires_grad_(True)
    ref, studio = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        sum(v.square().mean() for v in full(x).values()).backward()
        ref.append(time.perf_counter() - t)
        t = time.perf_counter()
        objective(x)[0].backward()
        studio.append(time.perf_counter() - t)
    return float(np.median(ref)), float(np.median(studio))


def reference_loop(
    cfg: StyleConfig,
    net: FullNetwork,
    content: Image.Image,
    style: Image.Image,
    steps: int,
) -> tuple[torch.Tensor, float, list[tuple[int, float]]]:
    """Udacity's loop: optimise the normalised image with Adam, no clamping, N steps. The one
    departure: the backend's content_gain, so both loops minimise the same objective."""
    started = time.perf_counter()
    gain = net.studio_net.content_gain
    c = image_to_tensor(content)
    s = image_to_tensor(style.resize(content.size, Image.Resampling.LANCZOS))
    with torch.no_grad():
        content_features = net(c)
        style_grams = {k: gram(v) for k, v in net(s).items()}
    target = ((c - IMAGENET_MEAN) / IMAGENET_STD).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([target], lr=0.003)
    trace = []
    for ii in range(1, steps + 1):
        feats = net(target * IMAGENET_STD + IMAGENET_MEAN)
        content_loss = gain * torch.mean((feats["conv4_2"] - content_features["conv4_2"]) ** 2)
        style_loss = 0
        for layer, w in cfg.style_layer_weights.items():
            tf = feats[layer]
            _, d, h, wd = tf.shape
            style_loss = style_loss + w * torch.mean((gram(tf) - style_grams[layer]) ** 2) / (d * h * wd)
        total = cfg.content_weight * content_loss + cfg.style_weight * style_loss
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        if ii % max(50, steps // 10) == 0 or ii == 1:
            trace.append((ii, total.item()))
    return (
        (target * IMAGENET_STD + IMAGENET_MEAN).detach(),
        time.perf_counter() - started,
        trace,
    )


class Stopwatch:
    """Progress listener: records full-resolution losses at the final scale, stops at the target."""

    def __init__(self, target: float, final_label: str) -> None:
        self.target, self.final_label = target, final_label
        self.start = time.perf_counter()
        self.hit: tuple[int, float, float] | None = None
        self.best = float("inf")

    def update(self, step: int, total: int, message: str = "", preview: Image.Image | None = None,
               metrics: dict[str, float] | None = None) -> None:
        if self.final_label in message and metrics and self.hit is None:
            self.best = min(self.best, metrics["loss"])
            if metrics["loss"] <= self.target:
                self.hit = (step, time.perf_counter() - self.start, metrics["loss"])

    def cancelled(self) -> bool:
        return self.hit is not None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--ref-steps", type=int, default=500)
    p.add_argument(
        "--studio-steps",
        type=int,
        default=300,
        help="budget; stops early at the target",
    )
    p.add_argument("--scales", nargs="+", default=["0.5,1.0", "1.0"], help="studio runs to time")
    p.add_argument("--network", default="auto")
    args = p.parse_args()
    torch.manual_seed(0)

    content, style, source = bench_images(args.size)
    cfg = StyleConfig(
        steps=args.studio_steps,
        max_side=args.size,
        network=args.network,
        preview_every=10**6,
    )
    studio_net, network = load_feature_network(cfg.network)
    full = FullNetwork(network, studio_net)
    print(
        f"machine: {torch.get_num_threads()} torch threads, CPU; network: {network}; images: {source}; "
        f"content {content.size[0]}x{content.size[1]}"
    )

    probe = torch.rand(1, 3, *content.size[::-1])
    with torch.no_grad():
        a, b = studio_net(probe), full(probe)
    assert all(torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-4) for k in a), (
        "truncated net differs from full net"
    )

    objective = Objective(cfg, studio_net, network, content, style, torch.device("cpu"))
    ref_step, studio_step = per_step_seconds(full, objective, content)
    print(
        f"one step at {content.size[0]}px, interleaved: reference {ref_step * 1000:.0f} ms, "
        f"studio {studio_step * 1000:.0f} ms; load average {os.getloadavg()[0]:.1f}"
    )
    reference_loop(cfg, full, content, style, 2)  # warm-up: first Adam/autograd use costs ~2 s
    image, ref_seconds, trace = reference_loop(cfg, full, content, style, args.ref_steps)
    with torch.no_grad():
        ref_loss = objective(image)[1]["loss"]
    print("reference (Adam lr 0.003, full net): " + ", ".join(f"step {s}: {v:.3g}" for s, v in trace))
    print(
        f"reference: {args.ref_steps} steps in {ref_seconds:.1f} s, final loss {ref_loss:.4g}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    for scales in args.scales:
        run_studio(content, style, cfg, scales, ref_loss, ref_seconds, args.ref_steps * ref_step)


def run_studio(
    content: Image.Image,
    style: Image.Image,
    base: StyleConfig,
    scales: str,
    ref_loss: float,
    ref_seconds: float,
    ref_estimate: float,
) -> None:
    """ref_estimate: reference steps x its interleaved per-step time, a load-robust baseline."""
    cfg = replace(base, scales=tuple(float(s) for s in scales.split(",")))
    GRAM_CACHE.clear()  # a cold job: the cross-job Gram cache gives this run nothing
    watch = Stopwatch(ref_loss, f"scale {len(cfg.scales)}/{len(cfg.scales)}")
    label = f"studio (L-BFGS, scales {scales})"
    try:
        stylize(cfg, content, style, progress=watch, device="cpu")
    except Cancelled:
        pass
    if watch.hit is None:
        print(f"{label}: did not reach {ref_loss:.4g} in {cfg.steps} steps (best {watch.best:.4g})")
        return
    step, seconds, loss = watch.hit
    print(
        f"{label}: loss {loss:.4g} <= {ref_loss:.4g} at step {step} after {seconds:.1f} s; "
        f"load average {os.getloadavg()[0]:.1f}\n  speed-up vs reference wall time "
        f"{ref_seconds:.1f} s: {ref_seconds / seconds:.1f}x; vs reference steps x per-step time "
        f"{ref_estimate:.1f} s: {ref_estimate / seconds:.1f}x"
    )


if __name__ == "__main__":
    main()
