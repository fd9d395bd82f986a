"""Train a CycleGAN on two unpaired sets of your own images: the recipe of Zhu et al. 2017 as
junyanz/pytorch-CycleGAN-and-pix2pix trains it (models/cycle_gan_model.py, its default options).

The command line is ml/cyclegan/train.py:
    python -m ml.cyclegan.train A.zip|FOLDER B.zip|FOLDER -o out.pt [--epochs 100 --epochs-decay 100]

Recipe: G_A: A -> B and G_B: B -> A are ResnetGenerators (instance norm, no dropout); D_A tells real
B from G_A(A), D_B real A from G_B(B), both 70x70 PatchGANs (ml/cyclegan/model.py). Weights
from N(0, 0.02). Losses (paper eq. 1-3 and section 7.1): least-squares GAN (MSE against 1 for real,
0 for fake), cycle consistency |G_B(G_A(a)) - a|_1 and |G_A(G_B(b)) - b|_1 weighted by lambda 10, and
the identity loss |G_A(b) - b|_1, |G_B(a) - a|_1 weighted by 0.5 * lambda. The discriminators learn
from a history of 50 generated images (the image pool), not only the latest. Adam lr 2e-4, betas
(0.5, 0.999), the same rate for ``epochs`` epochs, then linearly down to 0 over ``epochs_decay``.
Images are scaled to ``load_size`` squares, then each step takes a random ``image_size`` crop,
flipped left-right half the time (the pool, loading, crops, flips and the plan: ml/cyclegan/data.py).
Unpaired: an epoch visits each image of the larger set once (A indices wrap around), and each A
image is paired with a random B image.

Every ``report_every`` steps the listener hears the averaged losses (junyanz's names) and the
learning rate; every ``sample_every`` steps it also sees a before/after picture: rows of a few fixed
A images, G_A of them, fixed B images and G_B of them.

Resuming is exact: every random number (initial weights, shuffles, B picks, crops, flips, the pool's
choices) comes from one seeded torch.Generator, and the training checkpoint holds the nets, the
optimizers, the schedules, the generator's state, both pools, the epoch's shuffle and the partly
averaged report window. On the CPU, N steps, a stop, and the remaining steps give the same weights
as one uninterrupted run (tests/ml/cyclegan/test_training.py checks it). On a GPU cuDNN may pick
non-deterministic kernels, so results there are close, not identical.
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
from torchvision.utils import make_grid

from ml.common.checkpoint import checkpoint_dict
from ml.common.device import pick_device
from ml.common.images import tensor_to_image
from ml.common.progress import Progress
from ml.common.training import TrainResult, cpu_state_dict
from ml.common.training_run import TrainingRun, TrainingSpec
from ml.cyclegan.config import DRY_RUN_IMAGES, TrainConfig
from ml.cyclegan.data import ImagePool, Plan, augment, center_crops, load_domain, plan_run
from ml.cyclegan.infer import translate_tensor
from ml.cyclegan.model import CycleNets, NLayerDiscriminator, ResnetGenerator, init_weights

LOSSES = ("loss_d_a", "loss_d_b", "loss_g_a", "loss_g_b", "loss_cycle_a", "loss_cycle_b",
          "loss_idt_a", "loss_idt_b")
METRICS = (*LOSSES, "lr")
# The training checkpoint. Settings a resumed run must share with it; the others (epochs,
# epochs_decay, how often to report, sample and save) may change between runs.
SPEC = TrainingSpec(format="studio-cyclegan-training", version=1, family="cyclegan", what="CycleGAN",
                    metrics=METRICS,
                    same_on_resume=("image_size", "load_size", "n_blocks", "ngf", "ndf", "batch_size", "lr",
                                    "beta1", "lambda_cycle", "lambda_identity", "pool_size", "flip", "seed",
                                    "resize_mode", "dry_run"))
PREVIEW_COUNT = 4  # fixed images per domain in the before/after picture


def train(cfg: TrainConfig, images_a: Sequence[Image.Image], images_b: Sequence[Image.Image],
          progress: Progress, *, checkpoint_path: str | os.PathLike[str] | None = None,
          resume: bool = True, device: torch.device | str | None = None) -> TrainResult:
    """Train G_A: A -> B and G_B: B -> A on two unpaired image sets (any sizes: made square by
    ``cfg.resize_mode``) and return G_A as a studio "cyclegan" checkpoint (G_B's weights ride along
    in ``extra["generator_b2a"]``) with the run's metrics.

    ``checkpoint_path``: where the training checkpoint goes (every ``cfg.checkpoint_every`` steps,
    at the end, and before a Cancelled leaves). With ``resume`` and an existing file there, training
    continues from it; it must come from the same images and settings (``epochs`` and
    ``epochs_decay`` may change: the learning rate follows this run's schedule from the resumed
    epoch on). Cancellation is checked before every step. Raises TrainError for unusable input.
    """
    dev = device if isinstance(device, torch.device) else pick_device(device)
    notes: list[str] = []
    limit = DRY_RUN_IMAGES if cfg.dry_run else None
    data_a = load_domain(images_a, cfg.load_size, cfg.resize_mode, "A", limit)
    data_b = load_domain(images_b, cfg.load_size, cfg.resize_mode, "B", limit)
    plan = plan_run(cfg, data_a, data_b, notes)
    gcfg = cfg.generator_config()

    rng = torch.Generator().manual_seed(cfg.seed)  # every random number of the run comes from here
    nets = CycleNets(ResnetGenerator(gcfg), ResnetGenerator(gcfg), NLayerDiscriminator(ndf=cfg.ndf),
                     NLayerDiscriminator(ndf=cfg.ndf))
    for net in nets.all():
        init_weights(net, rng)
        net.to(dev).train()
    betas = (cfg.beta1, 0.999)
    opt_g = torch.optim.Adam([*nets.g_a.parameters(), *nets.g_b.parameters()], lr=cfg.lr, betas=betas)
    opt_d = torch.optim.Adam([*nets.d_a.parameters(), *nets.d_b.parameters()], lr=cfg.lr, betas=betas)
    sched_g, sched_d = lr_schedule(opt_g, cfg), lr_schedule(opt_d, cfg)
    pool_a, pool_b = ImagePool(cfg.pool_size), ImagePool(cfg.pool_size)  # fake A (for D_B), fake B (D_A)

    perm: torch.Tensor | None = None  # this epoch's shuffle, once drawn; None between epochs
    run = TrainingRun(SPEC, cfg, plan, progress, checkpoint_path, resume,
                      parts={"g_a": nets.g_a, "g_b": nets.g_b, "d_a": nets.d_a, "d_b": nets.d_b,
                             "opt_g": opt_g, "opt_d": opt_d, "sched_g": sched_g, "sched_d": sched_d,
                             "rng": rng},
                      # the schedules' lambdas are not saved (None): lr_schedule rebuilds them
                      fields=lambda: {"perm": perm, "pool_a": pool_a.state(), "pool_b": pool_b.state()})
    state = run.resume(lambda old: _other_images(old, plan), f" ({cfg.epochs} + {cfg.epochs_decay} epochs)")
    if state is not None:
        for sched, opt in ((sched_g, opt_g), (sched_d, opt_d)):
            for group in opt.param_groups:  # this run's schedule, should epochs have changed
                group["lr"] = cfg.lr * lr_factor(sched.last_epoch, cfg.epochs, cfg.epochs_decay)
        pool_a = ImagePool(cfg.pool_size, [x[None].to(dev) for x in state["pool_a"]])
        pool_b = ImagePool(cfg.pool_size, [x[None].to(dev) for x in state["pool_b"]])
        perm = state["perm"]
    run.start(f"{plan.images_a} + {plan.images_b} images (A + B), batch {plan.batch_size}, "
              f"{plan.steps_per_epoch} steps per epoch")
    shown = min(PREVIEW_COUNT, plan.images_a, plan.images_b)  # as many B as A: a rectangular grid
    fixed_a = center_crops(data_a[:shown], cfg.image_size)
    fixed_b = center_crops(data_b[:shown], cfg.image_size)
    show = partial(before_after, nets, fixed_a, fixed_b, dev)
    epochs = cfg.epochs + cfg.epochs_decay
    epoch_size = max(plan.images_a, plan.images_b)
    preview: Image.Image | None = None
    for epoch in range(run.step // plan.steps_per_epoch, epochs):
        if perm is None:
            perm = torch.randperm(epoch_size, generator=rng)
        for batch in range(run.step % plan.steps_per_epoch, plan.steps_per_epoch):
            # Top of a step: nets, optimizers, schedules, pools, rng and perm are consistent with ``step``.
            run.checkpoint_or_cancel()
            index = perm[batch * plan.batch_size:(batch + 1) * plan.batch_size]
            pick_b = torch.randint(0, plan.images_b, (len(index),), generator=rng)  # unpaired: any B
            real_a = augment(data_a[index % plan.images_a], cfg.image_size, cfg.flip, rng).to(dev)
            real_b = augment(data_b[pick_b], cfg.image_size, cfg.flip, rng).to(dev)
            lr = opt_g.param_groups[0]["lr"]
            losses = train_step(nets, opt_g, opt_d, pool_a, pool_b, real_a, real_b, rng,
                                lambda_cycle=cfg.lambda_cycle, lambda_identity=cfg.lambda_identity)
            run.add({**losses, "lr": lr})
            preview = run.report_and_preview(f"epoch {epoch + 1}/{epochs}, step {run.step}",
                                             run.step / plan.steps_per_epoch, plan.report_every,
                                             plan.sample_every, show)
        perm = None
        sched_g.step()  # at the end of each epoch, as junyanz's update_learning_rate
        sched_d.step()
    # The last step made a preview; a run that had nothing left to do makes one now.
    final_preview = preview if preview is not None else show()
    final = run.finish(final_preview)
    extra = {
        "source": "trained in the studio (ml.cyclegan.train)",
        "direction": "A -> B (extra['generator_b2a'] holds B -> A)",
        "train_config": asdict(cfg),
        "images": {"a": plan.images_a, "b": plan.images_b},
        "batch_size": plan.batch_size,
        "steps": run.step,
        "metrics": final,
        "generator_b2a": cpu_state_dict(nets.g_b),
    }
    for net in nets.all():
        net.eval()
    checkpoint = checkpoint_dict(family="cyclegan", config=gcfg, state_dict=nets.g_a.state_dict(),
                                 extra=extra)
    return run.result(checkpoint, final, final_preview, images=plan.images_a + plan.images_b,  # both domains
                      batch_size=plan.batch_size, notes=notes)


def train_step(nets: CycleNets, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
               pool_a: ImagePool, pool_b: ImagePool, real_a: torch.Tensor, real_b: torch.Tensor,
               rng: torch.Generator, *, lambda_cycle: float = 10.0,
               lambda_identity: float = 0.5) -> dict[str, float]:
    """One step of junyanz's CycleGANModel.optimize_parameters; returns the losses by its names.

    Both generators first, against discriminators that are frozen for that backward pass; then both
    discriminators on real images and on fakes drawn through the pools (``pool_a`` holds fake A
    images for D_B, ``pool_b`` fake B images for D_A).
    """
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    fake_b = nets.g_a(real_a)  # G_A(A)
    rec_a = nets.g_b(fake_b)  # G_B(G_A(A))
    fake_a = nets.g_b(real_b)  # G_B(B)
    rec_b = nets.g_a(fake_a)  # G_A(G_B(B))

    # Generators: fool the discriminators (LSGAN: their scores should be 1), close both cycles, and
    # leave an image of the target domain as it is (the identity loss keeps colours, section 5.2).
    _requires_grad((nets.d_a, nets.d_b), False)  # their gradients are not wanted here
    opt_g.zero_grad()
    idt_weight = lambda_cycle * lambda_identity
    loss_idt_a = l1(nets.g_a(real_b), real_b) * idt_weight
    loss_idt_b = l1(nets.g_b(real_a), real_a) * idt_weight
    score_b, score_a = nets.d_a(fake_b), nets.d_b(fake_a)
    loss_g_a = mse(score_b, torch.ones_like(score_b))
    loss_g_b = mse(score_a, torch.ones_like(score_a))
    loss_cycle_a = l1(rec_a, real_a) * lambda_cycle
    loss_cycle_b = l1(rec_b, real_b) * lambda_cycle
    loss_g = loss_g_a + loss_g_b + loss_cycle_a + loss_cycle_b + loss_idt_a + loss_idt_b
    loss_g.backward()
    opt_g.step()

    # Discriminators: real -> 1, (pooled) fake -> 0, halved so D learns slower than G (section 7.1).
    _requires_grad((nets.d_a, nets.d_b), True)
    opt_d.zero_grad()
    loss_d_a = _discriminator_loss(nets.d_a, real_b, pool_b.query(fake_b, rng), mse)
    loss_d_b = _discriminator_loss(nets.d_b, real_a, pool_a.query(fake_a, rng), mse)
    opt_d.step()
    named = {"loss_d_a": loss_d_a, "loss_d_b": loss_d_b, "loss_g_a": loss_g_a, "loss_g_b": loss_g_b,
             "loss_cycle_a": loss_cycle_a, "loss_cycle_b": loss_cycle_b, "loss_idt_a": loss_idt_a,
             "loss_idt_b": loss_idt_b}
    return {k: float(v.item()) for k, v in named.items()}


def _discriminator_loss(net: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                        mse: nn.Module) -> torch.Tensor:
    """junyanz backward_D_basic: 0.5 * (MSE(D(real), 1) + MSE(D(fake), 0)), and its backward."""
    score_real, score_fake = net(real), net(fake.detach())
    loss: torch.Tensor = (mse(score_real, torch.ones_like(score_real))
                          + mse(score_fake, torch.zeros_like(score_fake))) * 0.5
    loss.backward()
    return loss


def _requires_grad(nets: Sequence[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def lr_factor(epoch: int, epochs: int, epochs_decay: int) -> float:
    """junyanz's ``lambda_rule`` (epoch_count 1): 1 for the first ``epochs`` epochs, then down by
    1 / (epochs_decay + 1) per epoch; ``epoch`` counts finished epochs, so it is 0 once all are done."""
    return 1.0 - max(0, epoch + 1 - epochs) / (epochs_decay + 1)


def lr_schedule(opt: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning-rate schedule; step it at the end of each epoch."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda e: lr_factor(e, cfg.epochs, cfg.epochs_decay))


@torch.no_grad()
def before_after(nets: CycleNets, fixed_a: torch.Tensor, fixed_b: torch.Tensor,
                 device: torch.device) -> Image.Image:
    """Four rows: the fixed A images, G_A of them, the fixed B images, G_B of them. Made in eval mode
    through ``ml.cyclegan.infer.translate_tensor`` (what the studio's tool runs), which changes no
    training state and draws no random numbers."""
    for g in (nets.g_a, nets.g_b):
        g.eval()
    a, b = fixed_a.to(device), fixed_b.to(device)
    rows = torch.cat([a, translate_tensor(nets.g_a, a), b, translate_tensor(nets.g_b, b)])
    for g in (nets.g_a, nets.g_b):
        g.train()
    return tensor_to_image(make_grid((rows.float().cpu() + 1) / 2, nrow=len(a), padding=2))


def _other_images(old: dict[str, Any], plan: Plan) -> str | None:
    """How the training checkpoint's images (its plan) differ from this run's; None: they do not."""
    if old["fingerprint"] != plan.fingerprint:
        return (f"on other images (A {old['images_a']} then, {plan.images_a} now; B {old['images_b']} then, "
                f"{plan.images_b} now)")
    return None
