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
steps give the same weights as one uninterrupted run (tests/ml/dcgan/test_training.py checks it). On a
GPU cuDNN may pick non-deterministic kernels, so results there are close, not identical.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from typing import Any

import torch
from PIL import Image
from torch import nn

from ml.common.checkpoint import checkpoint_dict
from ml.common.device import pick_device
from ml.common.progress import Progress
from ml.common.training import TrainResult
from ml.common.training_run import TrainingRun, TrainingSpec
from ml.dcgan.config import DRY_RUN_IMAGES, TrainConfig
from ml.dcgan.data import Plan, dataset, plan_run
from ml.dcgan.infer import draw, generate, grid, square_nrow
from ml.dcgan.model import Discriminator, Generator

METRICS = ("loss_d", "loss_g", "d_x", "d_g_z")
# The training checkpoint. Settings a resumed run must share with it; the others (epochs, how often
# to report, sample and save) may change between runs.
SPEC = TrainingSpec(format="studio-dcgan-training", version=1, family="dcgan", what="DCGAN", metrics=METRICS,
                    same_on_resume=("image_size", "nz", "ngf", "ndf", "batch_size", "lr", "beta1", "seed",
                                    "resize_mode", "dry_run"))
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

    perm: torch.Tensor | None = None  # this epoch's shuffle, once drawn; None between epochs
    run = TrainingRun(SPEC, cfg, plan, progress, checkpoint_path, resume,
                      parts={"generator": netG, "discriminator": netD, "opt_g": optG, "opt_d": optD,
                             "rng": rng},
                      fields=lambda: {"perm": perm, "fixed_noise": fixed_noise})
    state = run.resume(lambda old: _other_images(old, plan), f" ({cfg.epochs} epochs)")
    if state is not None:
        perm, fixed_noise = state["perm"], state["fixed_noise"]
    run.start(f"{plan.images} images, batch {plan.batch_size}, {plan.steps_per_epoch} steps per epoch")
    criterion = nn.BCELoss()
    data = data.to(dev)
    show = partial(_preview, netG, fixed_noise, dev)
    preview: Image.Image | None = None
    for epoch in range(run.step // plan.steps_per_epoch, cfg.epochs):
        if perm is None:
            perm = torch.randperm(plan.images, generator=rng)
        for batch in range(run.step % plan.steps_per_epoch, plan.steps_per_epoch):
            # Top of a step: both nets, the optimizers, rng and perm are consistent with ``step``.
            run.checkpoint_or_cancel()
            index = perm[batch * plan.batch_size:(batch + 1) * plan.batch_size]
            real = data[index.to(dev)].float() / 127.5 - 1.0  # uint8 -> [-1, 1], the generator's range
            noise = torch.randn(len(index), cfg.nz, 1, 1, generator=rng).to(dev)
            run.add(train_step(netG, netD, optG, optD, criterion, real, noise))
            preview = run.report_and_preview(f"epoch {epoch + 1}/{cfg.epochs}, step {run.step}",
                                             run.step / plan.steps_per_epoch, plan.report_every,
                                             plan.sample_every, show)
        perm = None
    # The last step made a preview; a run that had nothing left to do makes one now.
    final_preview = preview if preview is not None else show()
    final = run.finish(final_preview)
    extra = {
        "source": "trained in the studio (ml.dcgan.train)",
        "train_config": asdict(cfg),
        "images": plan.images,
        "batch_size": plan.batch_size,
        "steps": run.step,
        "metrics": final,
    }
    netG.eval()
    checkpoint = checkpoint_dict(family="dcgan", config=gcfg, state_dict=netG.state_dict(), extra=extra)
    return run.result(checkpoint, final, final_preview, images=plan.images, batch_size=plan.batch_size,
                      notes=notes)


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


def _other_images(old: dict[str, Any], plan: Plan) -> str | None:
    """How the training checkpoint's images (its plan) differ from this run's; None: they do not."""
    if old["fingerprint"] != plan.fingerprint or old["images"] != plan.images:
        return f"on other images ({old['images']} then, {plan.images} now)"
    return None
