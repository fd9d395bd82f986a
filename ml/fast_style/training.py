"""Train a fast-style network on one style image: Johnson, Alahi & Fei-Fei (2016), "Perceptual Losses
for Real-Time Style Transfer", as pytorch/examples fast_neural_style trains it (``neural_style.py train``).

The command line is ml/fast_style/train.py:
    python -m ml.fast_style.train STYLE.jpg --features FEATURES.pt -o out.pt --steps 2000 [--resume]

Recipe: a TransformerNet (pixels 0..255 in and out, output not clamped) learns to turn photos into
pictures whose features match the photo's (content) and whose Gram matrices match the style image's
(style), computed once at ``style_size``. Adam lr 1e-3, batch 4, 256 px, as the example. The loss
network is the studio's feature network (ml/features), read at the layers Gatys stylization
uses (content conv4_2, the Udacity style layer weights), whichever network it is:

    content = mean((F(y) - F(x))^2) / mean(F(x)^2)                       at conv4_2        (eq. 2)
    style   = sum_l w_l mean((G_l(y) - G_l(s))^2) / mean(G_l(s)^2),  G = F F^T / (C h w)   (eq. 3-5)
    tv      = mean |y[i+1] - y[i]| + mean |y[j+1] - y[j]|, y in 0..1
    total   = content_weight * content + style_weight * style + tv_weight * tv

Each term is a relative error (divided by its target's mean square; an all-black output scores 1).
The example's weights (content 1e5, style 1e10) balance VGG16's raw magnitudes; EfficientNet-Lite0's
ReLU6 taps differ from those, and from each other (its stem's Gram error is ~1e5 times conv5_1's), so
raw errors would leave the deep style layers unheard and tie the weights to one network. Relative
errors make each layer count as its Udacity weight says, and the default weights (content 1, style
2, tv 1) were set by eye on the starter EfficientNet-Lite0 (docs/fast-style-trained.jpg).

The example trains 2 epochs over COCO's 83k photos; here the content set is small (by default
scikit-image's ~16 sample photos), so training is counted in steps and every step draws fresh random
crops (a random square of 1x to 1.5x the image side, scaled down, flipped half the time).

Resuming is exact: the training checkpoint holds the net, Adam's state, the random generator's state
and the partly-averaged report window, and every random number comes from one seeded torch.Generator.
On the CPU N steps, a stop and the rest give the same weights as one run
(tests/ml/fast_style/test_training.py).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.utils import make_grid

from ml.common.checkpoint import checkpoint_dict
from ml.common.device import pick_device
from ml.common.images import image_to_tensor, tensor_to_image
from ml.common.progress import Progress
from ml.common.training import TrainError, TrainResult
from ml.common.training_run import TrainingRun, TrainingSpec
from ml.fast_style.config import DRY_RUN_BATCH, DRY_RUN_SIZE, DRY_RUN_STEPS, TrainConfig
from ml.fast_style.data import dataset, random_crops, style_image
from ml.fast_style.infer import FastStyleModel, stylize_fast
from ml.fast_style.model import TransformerNet
from ml.features.model import FeatureNet
from ml.style.config import StyleConfig
from ml.style.model import tv_loss

METRICS = ("content", "style", "tv", "total")
# The training checkpoint. Settings a resumed run must share with it; the others (steps, the style's
# name, how often to report, preview and save) may change between runs.
SPEC = TrainingSpec(format="studio-fast-style-training", version=1, family="fast-style", what="fast-style",
                    metrics=METRICS,
                    same_on_resume=("image_size", "style_size", "batch_size", "lr", "content_weight",
                                    "style_weight", "tv_weight", "seed", "dry_run"))
# The layers Gatys stylization reads (ml/style/infer.py through StyleConfig's defaults).
CONTENT_LAYER = StyleConfig().content_layer
STYLE_LAYER_WEIGHTS = dict(StyleConfig().style_layer_weights)
LAYERS = tuple(sorted({CONTENT_LAYER, *STYLE_LAYER_WEIGHTS}))
PREVIEW_COUNT = 3  # photos in the before/after preview


@dataclass(frozen=True)
class _Plan:
    """What the run does, once the photos, style and feature network are known."""

    images: int
    batch_size: int
    image_size: int
    style_size: int
    total_steps: int
    report_every: int
    sample_every: int
    fingerprint: str  # of the prepared photos: a resume must see the same data
    style_fingerprint: str  # of the style image as its Grams were taken
    features: str  # the feature network and its weights


def train(cfg: TrainConfig, style: Image.Image, content: Sequence[Image.Image], features: FeatureNet,
          progress: Progress, *, checkpoint_path: str | os.PathLike[str] | None = None,
          resume: bool = True, device: torch.device | str | None = None) -> TrainResult:
    """Train a TransformerNet to paint ``content`` photos (any sizes) in the style of ``style``, with
    ``features`` (a FeatureNet with the Gatys layers) as the loss network; return it as a fast-style
    studio checkpoint with the run's metrics.

    ``checkpoint_path``: where the training checkpoint goes (every ``cfg.checkpoint_every`` steps, at
    the end, and before a Cancelled leaves). With ``resume`` and an existing file there, training
    continues from it; it must come from the same photos, style, feature network and settings
    (``steps`` may grow). Cancellation is checked before every step. Raises TrainError for unusable input.
    """
    dev = device if isinstance(device, torch.device) else pick_device(device)
    lacking = sorted(set(LAYERS) - set(features.layers))
    if lacking:
        raise TrainError(f"the feature network lacks layers {', '.join(lacking)}")
    notes: list[str] = []
    data = dataset(cfg, content)
    style_img = style_image(cfg, style)
    plan = _plan(cfg, data, style_img, features, notes)
    features = features.to(dev)
    grams = style_grams(features, image_to_tensor(style_img).to(dev))
    side = (plan.image_size, plan.image_size)
    preview_photos = [tensor_to_image(photo / 255).resize(side, Image.Resampling.LANCZOS)
                      for photo in data[:PREVIEW_COUNT].float()]

    rng = torch.Generator().manual_seed(cfg.seed)  # every random number of the run comes from here
    net = TransformerNet()
    init_weights(net, rng)
    net.to(dev).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)

    run = TrainingRun(SPEC, cfg, plan, progress, checkpoint_path, resume,
                      parts={"net": net, "optimizer": optimizer, "rng": rng})
    run.resume(lambda old: _other_data(old, plan), more="steps")
    run.start(f"{plan.images} photos, batch {plan.batch_size}, {plan.image_size} px")
    data = data.to(dev)
    show = partial(_preview, net, cfg, preview_photos, dev)
    preview: Image.Image | None = None
    while run.step < plan.total_steps:
        # Top of a step: the net, Adam and rng are consistent with ``step``.
        run.checkpoint_or_cancel()
        batch = random_crops(data, plan.batch_size, plan.image_size, rng)
        run.add(train_step(net, features, optimizer, batch, grams, cfg))
        preview = run.report_and_preview(f"step {run.step}", run.step * plan.batch_size / plan.images,
                                         plan.report_every, plan.sample_every, show)
    # The last step made a preview; a run that had nothing left to do makes one now.
    final_preview = preview if preview is not None else show()
    final = run.finish(final_preview)
    extra = {
        "source": "trained in the studio (ml.fast_style.train)",
        "train_config": asdict(cfg),
        "features": {"network": network_name(features), "weights_key": features.weights_key},
        "style_sha256": plan.style_fingerprint,
        "images": plan.images,
        "steps": run.step,
        "metrics": final,
    }
    net.eval()
    checkpoint = checkpoint_dict(family="fast-style", config=cfg.model_config(), state_dict=net.state_dict(),
                                 extra=extra)
    return run.result(checkpoint, final, final_preview, images=plan.images, batch_size=plan.batch_size,
                      notes=notes)


def train_step(net: TransformerNet, features: FeatureNet, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               grams: dict[str, torch.Tensor], cfg: TrainConfig) -> dict[str, float]:
    """One Adam step on the photos ``x`` (B, 3, S, S) in 0..255; returns the weighted losses."""
    optimizer.zero_grad()
    y = net(x)  # (B, 3, S, S), roughly 0..255
    parts = perceptual_loss(features, x, y, grams, cfg)
    parts["total"].backward()
    optimizer.step()
    return {k: v.item() for k, v in parts.items()}


def perceptual_loss(features: FeatureNet, x: torch.Tensor, y: torch.Tensor, grams: dict[str, torch.Tensor],
                    cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """The weighted content, style and tv terms of the module docstring and their sum, for photos
    ``x`` and the net's output ``y`` (both 0..255; the feature network takes 0..1)."""
    with torch.no_grad():
        target = features(x / 255)[CONTENT_LAYER]
    out = features(y / 255)
    content = F.mse_loss(out[CONTENT_LAYER], target) / target.pow(2).mean().clamp_min(1e-12)
    style = y.new_zeros(())
    for layer, w in STYLE_LAYER_WEIGHTS.items():
        g = grams[layer]  # (1, C, C): broadcast over the batch
        style = style + w * (gram_matrix(out[layer]) - g).pow(2).mean() / g.pow(2).mean().clamp_min(1e-12)
    parts = {"content": cfg.content_weight * content, "style": cfg.style_weight * style,
             "tv": cfg.tv_weight * tv_loss(y / 255)}
    parts["total"] = parts["content"] + parts["style"] + parts["tv"]
    return parts


def gram_matrix(f: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, C) Gram matrices divided by C h w, as the example's ``gram_matrix``:
    a per-position average, so Grams of the style at ``style_size`` compare with crops of any size."""
    b, c, h, w = f.shape
    flat = f.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def style_grams(features: FeatureNet, style: torch.Tensor) -> dict[str, torch.Tensor]:
    """The style image (1, 3, H, W) in 0..1 -> {layer: (1, C, C)}, once per run."""
    with torch.no_grad():
        out = features(style)
    return {layer: gram_matrix(out[layer]) for layer in STYLE_LAYER_WEIGHTS}


def init_weights(net: nn.Module, rng: torch.Generator) -> None:
    """PyTorch's default initialisation of every conv (the example keeps it), drawn from ``rng``:
    weights kaiming-uniform with a = sqrt(5), biases uniform in +-1/sqrt(fan_in). Instance-norm
    scales stay 1 and shifts 0."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=rng)
            if m.bias is not None:
                bound = 1 / math.sqrt(m.weight[0].numel())
                nn.init.uniform_(m.bias, -bound, bound, generator=rng)


def network_name(features: FeatureNet) -> str:
    """"efficientnet-lite0", "vgg19", or the class name of another FeatureNet."""
    names = {"EfficientNetFeatures": "efficientnet-lite0", "VGG19Features": "vgg19"}
    return names.get(type(features).__name__, type(features).__name__)


# --- the plan ------------------------------------------------------------------------------------


def _plan(cfg: TrainConfig, data: torch.Tensor, style: Image.Image, features: FeatureNet,
          notes: list[str]) -> _Plan:
    n = len(data)
    batch, steps = cfg.batch_size, cfg.steps
    if cfg.dry_run:
        batch, steps = min(batch, DRY_RUN_BATCH), min(steps, DRY_RUN_STEPS)
        notes.append(f"dry run: {n} photos at {DRY_RUN_SIZE} px, batch {batch}, {steps} steps")
    if n < batch:
        notes.append(f"only {n} photos for a batch of {batch}: a batch holds several crops of one photo")
    digest = hashlib.sha256(data.numpy().tobytes()).hexdigest()[:16]
    style_digest = hashlib.sha256(style.tobytes() + repr(style.size).encode()).hexdigest()[:16]
    feature_id = network_name(features) + (f"@{features.weights_key}" if features.weights_key else "")
    return _Plan(images=n, batch_size=batch, image_size=DRY_RUN_SIZE if cfg.dry_run else cfg.image_size,
                 style_size=max(style.size), total_steps=steps,
                 report_every=1 if cfg.dry_run else cfg.report_every,
                 sample_every=1 if cfg.dry_run else cfg.sample_every, fingerprint=digest,
                 style_fingerprint=style_digest, features=feature_id)


def _preview(net: TransformerNet, cfg: TrainConfig, photos: list[Image.Image],
             device: torch.device) -> Image.Image:
    """The preview photos (top row) over what ``stylize_fast`` makes of them with the net as it is
    (bottom row). Eval mode and inference change no state, so previews never change training."""
    net.eval()
    model = FastStyleModel(config=cfg.model_config(), net=net)
    after = [stylize_fast(model, photo, max_side=max(photo.size), device=device) for photo in photos]
    net.train()
    tiles = torch.cat([image_to_tensor(img) for img in [*photos, *after]])
    return tensor_to_image(make_grid(tiles, nrow=len(photos), padding=2))


def _other_data(old: dict[str, Any], plan: _Plan) -> str | None:
    """How the training checkpoint's photos, style or feature network (its plan) differ from this
    run's; None: they do not."""
    if old["fingerprint"] != plan.fingerprint or old["images"] != plan.images:
        return f"on other photos ({old['images']} then, {plan.images} now)"
    if old["style_fingerprint"] != plan.style_fingerprint:
        return "on another style image"
    if old["features"] != plan.features:
        return f"with another feature network ({old['features']} then, {plan.features} now)"
    return None
