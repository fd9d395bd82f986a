"""Train a DCGAN on your own images: the recipe of pytorch/examples dcgan/main.py and the PyTorch DCGAN
tutorial (Radford et al. 2016), at 64 px or 32 px.

The command line is ml/dcgan/train.py:
    python -m ml.dcgan.train IMAGES.zip|FOLDER -o out.pt --epochs 25 --size 64 [--resume] [--dry-run]

Recipe: weights from N(0, 0.02) (batch-norm scales from N(1, 0.02)), binary cross-entropy with real
label 1 and fake label 0, Adam lr 2e-4 with beta1 0.5 for both nets. Each step first trains the
discriminator on a real batch and a fake batch, then the generator to make the discriminator say
"real" to those fakes. Every ``report_every`` steps the listener hears the averaged losses and
D(x) / D(G(z)); every ``sample_every`` steps it also sees a grid of the generator's images for a
fixed set of latents (the ones ``ml.dcgan.infer.sample(model, n, seed)`` draws for the run's seed).
The images, the batch size and the steps per epoch: ml/dcgan/data.py.

Resuming is exact: the training checkpoint holds both nets, both optimizers, the random generator's
state, the epoch's shuffle and the partly-averaged report window, and every random number comes from
one seeded torch.Generator (never the global RNG). On the CPU, N steps, a stop, and the remaining
steps give the same weights as one uninterrupted run (tests/ml/test_dcgan_train.py checks it). On a
GPU cuDNN may pick non-deterministic kernels, so results there are close, not identical.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from ml.common.checkpoint import checkpoint_dict
from ml.common.device import pick_device
from ml.common.progress import Progress
from ml.common.training import (
    MetricWindow,
    TrainError,
    TrainResult,
    check_finite,
    check_not_past,
    check_same_settings,
    checkpoint_or_cancel,
    cpu_state_dict,
    load_state,
    save_state,
)
from ml.dcgan.config import DRY_RUN_IMAGES, TrainConfig
from ml.dcgan.data import Plan, dataset, plan_run
from ml.dcgan.infer import draw, generate, grid, square_nrow
from ml.dcgan.model import Discriminator, Generator

TRAINING_FORMAT = "studio-dcgan-training"
TRAINING_VERSION = 1
METRICS = ("loss_d", "loss_g", "d_x", "d_g_z")
PREVIEW_COUNT = 64  # fixed latents in the preview grid (8 x 8)


def train(cfg: TrainConfig, images: Sequence[Image.Image], progress: Progress, *,
          checkpoint_path: str | os.PathLike[str] | None = None, resume: bool = True,
          device: torch.device | str | None = None) -> TrainResult:
    """Train a generator and discriminator on ``images`` (any sizes: made square by
    ``cfg.resize_mode``) and return the generator as a studio checkpoint with the run's metrics.

    ``checkpoint_path``: where the training checkpoint goes (every ``cfg.checkpoint_every`` steps,
    at the end, and before a Cancelled leaves). With ``resume`` and an existing file there, training
    continues from it; it must come from the same images and settings (``epochs`` may grow).
    Cancellation is checked before every step. Raises TrainError for unusable input.
    """
    dev = device if isinstance(device, torch.device) else pick_device(device)
    notes: list[str] = []
    data = dataset(cfg, images)
    plan = plan_run(cfg, data, notes)
    gcfg = cfg.generator_config()

    rng = torch.Generator().manual_seed(cfg.seed)  # every random number of the run comes from here
    netG, netD = Generator(gcfg), Discriminator(gcfg, cfg.ndf)
    init_weights(netG, rng)
    init_weights(netD, rng)
    netG.to(dev).train()
    netD.to(dev).train()
    optG = torch.optim.Adam(netG.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    optD = torch.optim.Adam(netD.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    fixed_noise = draw(cfg.nz, DRY_RUN_IMAGES if cfg.dry_run else PREVIEW_COUNT, cfg.seed)

    step, perm = 0, None
    history: list[dict[str, float]] = []
    window = MetricWindow(METRICS)
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    if path is not None and resume and path.exists():
        state = _load_state(path, cfg, plan)
        netG.load_state_dict(state["generator"])
        netD.load_state_dict(state["discriminator"])
        optG.load_state_dict(state["opt_g"])
        optD.load_state_dict(state["opt_d"])
        rng.set_state(state["rng"])
        step, perm, history = state["step"], state["perm"], list(state["history"])
        fixed_noise = state["fixed_noise"]
        window = MetricWindow.from_state(METRICS, state["window"])
    resumed_from = step

    def save() -> None:
        if path is not None:
            _save_state(path, cfg=cfg, plan=plan, step=step, perm=perm, rng=rng, netG=netG, netD=netD,
                        optG=optG, optD=optD, fixed_noise=fixed_noise, history=history, window=window)

    if step < plan.total_steps:  # listeners learn the total (and a resume's start) before step 1 ends
        where = f"resuming at step {step}" if step else "starting"
        progress.update(step, plan.total_steps, f"{where}: {plan.images} images, batch {plan.batch_size}, "
                        f"{plan.steps_per_epoch} steps per epoch")
    criterion = nn.BCELoss()
    data = data.to(dev)
    preview: Image.Image | None = None
    for epoch in range(step // plan.steps_per_epoch, cfg.epochs):
        if perm is None:
            perm = torch.randperm(plan.images, generator=rng)
        for batch in range(step % plan.steps_per_epoch, plan.steps_per_epoch):
            # Top of a step: both nets, the optimizers, rng and perm are consistent with ``step``.
            checkpoint_or_cancel(progress, save, step=step, resumed_from=resumed_from,
                                 every=cfg.checkpoint_every)
            index = perm[batch * plan.batch_size:(batch + 1) * plan.batch_size]
            real = data[index.to(dev)].float() / 127.5 - 1.0  # uint8 -> [-1, 1], the generator's range
            noise = torch.randn(len(index), cfg.nz, 1, 1, generator=rng).to(dev)
            metrics = train_step(netG, netD, optG, optD, criterion, real, noise)
            step += 1
            check_finite(metrics, step)
            window.add(metrics)
            last = step == plan.total_steps
            preview = None
            if last or (plan.sample_every and step % plan.sample_every == 0):
                preview = _preview(netG, fixed_noise, dev)
            reported = None
            if last or step % plan.report_every == 0:
                reported = window.report(history, step, step / plan.steps_per_epoch,
                                         restart=step % plan.report_every == 0)
            if reported is not None or preview is not None:
                progress.update(step, plan.total_steps, f"epoch {epoch + 1}/{cfg.epochs}, step {step}",
                                preview=preview, metrics=reported)
        perm = None
    if step != resumed_from:
        save()

    # The last step made a preview; a run that had nothing left to do makes one now.
    final_preview = preview if preview is not None else _preview(netG, fixed_noise, dev)
    final = {k: history[-1][k] for k in METRICS} if history else {}
    if step == resumed_from:  # nothing left to do: the checkpoint had finished already
        progress.update(step, plan.total_steps, "already trained", preview=final_preview, metrics=final)
    extra = {
        "source": "trained in the studio (ml.dcgan.train)",
        "train_config": asdict(cfg),
        "images": plan.images,
        "batch_size": plan.batch_size,
        "steps": step,
        "metrics": final,
    }
    netG.eval()
    return TrainResult(
        checkpoint=checkpoint_dict(family="dcgan", config=gcfg, state_dict=netG.state_dict(), extra=extra),
        final=final, history=history, preview=final_preview, step=step, total_steps=plan.total_steps,
        resumed_from=resumed_from, images=plan.images, batch_size=plan.batch_size, notes=notes,
    )


def train_step(netG: Generator, netD: Discriminator, optG: torch.optim.Optimizer,
               optD: torch.optim.Optimizer, criterion: nn.Module, real: torch.Tensor,
               noise: torch.Tensor) -> dict[str, float]:
    """One DCGAN step as the reference takes it; returns the step's losses and D outputs.

    d_x is the discriminator's mean output on the real batch, d_g_z on the fakes, both before its
    update: 0.5 each is the equilibrium, d_x near 1 with d_g_z near 0 a discriminator that wins.
    """
    ones = torch.ones(len(real), device=real.device)
    zeros = torch.zeros(len(real), device=real.device)

    # Discriminator: maximise log D(x) + log(1 - D(G(z))); real and fake pass separately so each
    # batch-norm sees one kind only (as the reference does).
    netD.zero_grad()
    out_real = netD(real)
    loss_real = criterion(out_real, ones)
    loss_real.backward()
    fake = netG(noise)
    out_fake = netD(fake.detach())  # no gradient into the generator on this half
    loss_fake = criterion(out_fake, zeros)
    loss_fake.backward()
    optD.step()

    # Generator: maximise log D(G(z)) (the non-saturating loss), against the updated discriminator.
    netG.zero_grad()
    loss_g = criterion(netD(fake), ones)
    loss_g.backward()
    optG.step()
    return {
        "loss_d": (loss_real + loss_fake).item(),
        "loss_g": loss_g.item(),
        "d_x": out_real.mean().item(),
        "d_g_z": out_fake.mean().item(),
    }


def init_weights(module: nn.Module, rng: torch.Generator) -> None:
    """The reference's ``weights_init``: conv weights from N(0, 0.02), batch-norm scales from
    N(1, 0.02) and shifts 0 (Radford et al. 2016, section 4), drawn from ``rng``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02, generator=rng)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02, generator=rng)
            nn.init.zeros_(m.bias)


def _preview(netG: Generator, fixed_noise: torch.Tensor, device: torch.device) -> Image.Image:
    """The fixed latents' images in eval mode, as ``ml.dcgan.infer.sample`` makes them; eval mode
    changes no state, so previews never change what training does."""
    images = generate(netG, fixed_noise, device)
    netG.train()
    return grid(images, nrow=square_nrow(len(images)))


# --- the training checkpoint ----------------------------------------------------------------------

# Settings a resumed run must share with the checkpoint; the others (epochs, how often to report,
# sample and save) may change between runs.
_SAME_ON_RESUME = ("image_size", "nz", "ngf", "ndf", "batch_size", "lr", "beta1", "seed", "resize_mode",
                   "dry_run")


def _save_state(path: Path, *, cfg: TrainConfig, plan: Plan, step: int, perm: torch.Tensor | None,
                rng: torch.Generator, netG: Generator, netD: Discriminator, optG: torch.optim.Optimizer,
                optD: torch.optim.Optimizer, fixed_noise: torch.Tensor, history: list[dict[str, float]],
                window: MetricWindow) -> None:
    state = {
        "format": TRAINING_FORMAT,
        "version": TRAINING_VERSION,
        "family": "dcgan",
        "config": asdict(cfg),
        "plan": asdict(plan),
        "step": step,
        "perm": perm,  # this epoch's shuffle, once drawn; None between epochs
        "rng": rng.get_state(),
        "generator": cpu_state_dict(netG),
        "discriminator": cpu_state_dict(netD),
        "opt_g": optG.state_dict(),
        "opt_d": optD.state_dict(),
        "fixed_noise": fixed_noise,
        "history": history,
        "window": window.state(),
    }
    save_state(path, state)


def _load_state(path: Path, cfg: TrainConfig, plan: Plan) -> dict[str, Any]:
    state = load_state(path, TRAINING_FORMAT, TRAINING_VERSION, "DCGAN")
    check_same_settings(state["config"], asdict(cfg), _SAME_ON_RESUME)
    old = state["plan"]
    if old["fingerprint"] != plan.fingerprint or old["images"] != plan.images:
        raise TrainError(f"cannot resume: the checkpoint was trained on other images "
                         f"({old['images']} then, {plan.images} now)")
    check_not_past(state["step"], plan.total_steps, f" ({cfg.epochs} epochs)")
    return state
