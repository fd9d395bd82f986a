"""Optimisation-based style transfer (Gatys, Ecker & Bethge 2016, "Image Style Transfer Using
Convolutional Neural Networks"): optimise the pixels of an image so its deep features match the
content image and its Gram matrices match the style image.

What makes it fast compared with the plain notebook loop: the feature net is cut after the deepest
layer used, content features and style Grams are computed once per scale (Grams also cached across
jobs), L-BFGS instead of Adam, and coarse-to-fine solving (jcjohnson/neural-style's multi-scale recipe).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image

from ml.common.device import pick_device
from ml.common.images import resize_max_side, tensor_to_image
from ml.common.progress import NullProgress, Progress, check_cancelled
from ml.features.infer import load_feature_network
from ml.features.model import FeatureNet
from ml.style.config import StyleConfig
from ml.style.model import Objective


@dataclass
class StyleResult:
    image: Image.Image
    network: str
    losses: dict[str, float]  # final total / content / style (/ tv) at full size
    steps_done: int
    seconds: float


def scale_plan(
    size: tuple[int, int], scales: tuple[float, ...], steps: int
) -> list[tuple[tuple[int, int], int]]:
    """[(W, H), steps] per scale. The finest scale gets twice the share of each coarser one
    (300 steps at (0.5, 1.0) -> 100 + 200): coarse steps are cheap and settle the large-scale
    style, but only full-size steps fix what the result looks like. Remainder goes to the finest."""
    w, h = size
    shares = [1] * (len(scales) - 1) + [2]
    counts = [max(1, steps * sh // sum(shares)) for sh in shares]
    counts[-1] = steps - sum(counts[:-1])
    plan = []
    for s, n in zip(scales, counts, strict=True):
        plan.append(((max(16, round(w * s)), max(16, round(h * s))), n))
    return plan


def _initial(cfg: StyleConfig, content_t: torch.Tensor) -> torch.Tensor:
    if cfg.init == "content":
        return content_t.clone()
    gen = torch.Generator().manual_seed(cfg.seed)  # CPU generator: same seed, same start anywhere
    noise = torch.rand(content_t.shape, generator=gen).to(content_t.device)
    return noise


def _make_optimizer(cfg: StyleConfig, x: torch.Tensor, n_steps: int) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam([x], lr=cfg.lr)
    # One .step() call runs the whole scale: max_eval bounds the objective evaluations (a strong
    # Wolfe line search may overrun it by a few). The line search matters: without it, L-BFGS's
    # unit steps on losses of ~1e9 overshoot and the image degenerates. Pixels are not clamped
    # between iterations, since clamping behind the optimiser's back corrupts its curvature history.
    return torch.optim.LBFGS([x], lr=1.0, max_iter=n_steps, max_eval=n_steps, history_size=50,
                             line_search_fn="strong_wolfe")


def _optimise(
    cfg: StyleConfig,
    objective: Objective,
    x: torch.Tensor,
    n_steps: int,
    step: int,
    label: str,
    progress: Progress,
) -> int:
    """Run about ``n_steps`` objective evaluations on ``x`` in place; return the global step count.

    Progress is reported from inside the objective, so each evaluation is a step and a cancel is
    noticed within one evaluation, also in the middle of an L-BFGS line search.
    """
    opt = _make_optimizer(cfg, x, n_steps)
    first, budget_end = step + 1, step + n_steps
    evals = 0

    def closure() -> torch.Tensor:
        nonlocal evals
        check_cancelled(progress)
        opt.zero_grad()
        total, parts = objective(x)
        total.backward()
        evals += 1
        at = first + evals - 1
        # The very last step of the job is reported by stylize() with the final image.
        if at <= budget_end and at < cfg.steps:
            preview = tensor_to_image(x.detach().clamp(0, 1)) if at % cfg.preview_every == 0 else None
            progress.update(at, cfg.steps, label, preview=preview, metrics=dict(parts))
        return total

    if cfg.optimizer == "adam":
        for _ in range(n_steps):
            closure()
            opt.step()
            with torch.no_grad():
                x.clamp_(0, 1)  # projected gradient: harmless for Adam, keeps colours valid
    else:
        opt.step(closure)  # type: ignore[arg-type]  # torch types the closure as returning float
    return budget_end


def stylize(
    cfg: StyleConfig,
    content: Image.Image,
    style: Image.Image,
    *,
    progress: Progress | None = None,
    device: torch.device | str | None = None,
    features: tuple[FeatureNet, str] | None = None,
) -> StyleResult:
    """Render ``content`` in the style of ``style``; one step = one objective evaluation.

    ``features``: a (net, network name) pair to use instead of ``cfg.network``, e.g. the catalog's
    active network from ``ml.features.infer.load``; it must provide every layer cfg reads.
    """
    cfg.validate()
    progress = progress or NullProgress()
    dev = device if isinstance(device, torch.device) else pick_device(device)
    torch.manual_seed(cfg.seed)
    started = time.perf_counter()
    layers = tuple(sorted({*cfg.style_layer_weights, cfg.content_layer}))
    if features is None:
        net, network = load_feature_network(cfg.network, layers)
    else:
        net, network = features
        lacking = sorted(set(layers) - set(net.layers))
        if lacking:
            raise ValueError(f"the given feature network lacks layers {', '.join(lacking)}")
    # Style Grams are cached by this name: different weights under one network name must not mix.
    gram_key = network if net.weights_key is None else f"{network}@{net.weights_key}"
    net = net.to(dev)
    content_full = resize_max_side(content.convert("RGB"), cfg.max_side)
    style = style.convert("RGB")

    step, x = 0, None
    plan = scale_plan(content_full.size, cfg.scales, cfg.steps)
    for k, (size, n_steps) in enumerate(plan):
        content_k = (
            content_full.resize(size, Image.Resampling.LANCZOS) if size != content_full.size else content_full
        )
        objective = Objective(cfg, net, gram_key, content_k, style, dev)
        if x is None:
            x = _initial(cfg, objective.content_t)
        else:  # coarse-to-fine: start from the previous scale's solution, upsampled
            x = F.interpolate(x, size=(size[1], size[0]), mode="bilinear", align_corners=False)
        x = x.detach().clamp(0, 1).requires_grad_(True)  # valid colours at each scale's start
        label = f"scale {k + 1}/{len(plan)} ({size[0]}x{size[1]})"
        step = _optimise(cfg, objective, x, n_steps, step, label, progress)

    assert x is not None
    with torch.no_grad():
        x.clamp_(0, 1)
        _, final = objective(x)  # the finest objective, at the returned image
    image = tensor_to_image(x)
    progress.update(cfg.steps, cfg.steps, "done", preview=image, metrics=dict(final))
    return StyleResult(
        image=image,
        network=network,
        losses=final,
        steps_done=step,
        seconds=time.perf_counter() - started,
    )
