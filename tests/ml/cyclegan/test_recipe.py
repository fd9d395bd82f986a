"""The junyanz CycleGAN recipe, part by part: the 70 px PatchGAN discriminator, one step equal to
junyanz's optimize_parameters, the image pool, the lr schedule and the augmentation."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
import torch
from torch import nn

from ml.common.progress import NullProgress
from ml.cyclegan.config import CycleGANConfig
from ml.cyclegan.data import ImagePool, augment
from ml.cyclegan.model import CycleNets, NLayerDiscriminator, ResnetGenerator, init_weights
from ml.cyclegan.training import LOSSES, lr_factor, lr_schedule, train_step
from tests.ml.cyclegan.conftest import domain_a, domain_b, tiny, train
from tests.ml.cyclegan.reference import JunyanzNLayerDiscriminator, JunyanzResnetGenerator, get_norm_layer

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/ml/conftest.py


# --- the discriminator -----------------------------------------------------------------------------


def test_the_discriminator_is_the_junyanz_70px_patchgan() -> None:
    ours = NLayerDiscriminator()  # ndf 64, n_layers 3, instance norm: the CycleGAN default
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        "model.0.weight": (64, 3, 4, 4), "model.0.bias": (64,),
        "model.2.weight": (128, 64, 4, 4), "model.2.bias": (128,),
        "model.5.weight": (256, 128, 4, 4), "model.5.bias": (256,),
        "model.8.weight": (512, 256, 4, 4), "model.8.bias": (512,),
        "model.11.weight": (1, 512, 4, 4), "model.11.bias": (1,),
    }
    kinds = [type(m).__name__ for m in ours.model]
    assert kinds == ["Conv2d", "LeakyReLU",
                     "Conv2d", "InstanceNorm2d", "LeakyReLU",
                     "Conv2d", "InstanceNorm2d", "LeakyReLU",
                     "Conv2d", "InstanceNorm2d", "LeakyReLU",
                     "Conv2d"]
    assert sum(p.numel() for p in ours.parameters()) == 2_764_737  # junyanz prints 2.765 M for D_A
    with torch.no_grad():
        assert ours(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)  # one score per 70x70 patch


@pytest.mark.parametrize(("norm", "n_layers"), [("instance", 3), ("batch", 3), ("instance", 2)])
def test_the_discriminator_matches_junyanz_weights_and_outputs(norm: str, n_layers: int) -> None:
    torch.manual_seed(0)
    ref = JunyanzNLayerDiscriminator(3, ndf=8, n_layers=n_layers, norm_layer=get_norm_layer(norm))
    ours = NLayerDiscriminator(ndf=8, n_layers=n_layers, norm=norm)
    theirs = {k: v.shape for k, v in ref.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == theirs
    ours.load_state_dict(ref.state_dict())
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(ours.eval()(x), ref.eval()(x))


# --- one step, the pool, the schedule, the augmentation ---------------------------------------------


def test_a_step_is_junyanz_optimize_parameters() -> None:
    """train_step against junyanz's CycleGANModel.optimize_parameters, written out as it is there, on
    junyanz's own generator and discriminator classes carrying the same weights."""
    gcfg = CycleGANConfig(ngf=4, n_blocks=2)
    rng = torch.Generator().manual_seed(0)
    nets = CycleNets(ResnetGenerator(gcfg), ResnetGenerator(gcfg), NLayerDiscriminator(ndf=4),
                     NLayerDiscriminator(ndf=4))
    for net in nets.all():
        init_weights(net, rng)
    norm = get_norm_layer("instance")
    netG_A, netG_B = (JunyanzResnetGenerator(3, 3, 4, norm, False, 2) for _ in range(2))
    netD_A, netD_B = (JunyanzNLayerDiscriminator(3, 4, 3, norm) for _ in range(2))
    for theirs, ours in zip((netG_A, netG_B, netD_A, netD_B), nets.all(), strict=True):
        theirs.load_state_dict(copy.deepcopy(ours.state_dict()))

    def adam(params: Any) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))

    opt_g = adam([*nets.g_a.parameters(), *nets.g_b.parameters()])
    opt_d = adam([*nets.d_a.parameters(), *nets.d_b.parameters()])
    optimizer_G = adam(itertools.chain(netG_A.parameters(), netG_B.parameters()))
    optimizer_D = adam(itertools.chain(netD_A.parameters(), netD_B.parameters()))
    pool_a, pool_b = ImagePool(50), ImagePool(50)  # the first 50 fakes pass straight through
    criterionGAN, criterionCycle, criterionIdt = nn.MSELoss(), nn.L1Loss(), nn.L1Loss()
    lambda_A = lambda_B = 10.0
    lambda_idt = 0.5

    def set_requires_grad(nets: list[nn.Module], requires_grad: bool) -> None:
        for net in nets:
            for param in net.parameters():
                param.requires_grad = requires_grad

    def gan_loss(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.tensor(1.0 if target_is_real else 0.0).expand_as(prediction)
        return criterionGAN(prediction, target)

    def backward_D_basic(netD: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        loss_D = (gan_loss(netD(real), True) + gan_loss(netD(fake.detach()), False)) * 0.5
        loss_D.backward()
        return loss_D

    data = torch.Generator().manual_seed(1)
    for _ in range(2):
        real_A = torch.rand(1, 3, 32, 32, generator=data) * 2 - 1
        real_B = torch.rand(1, 3, 32, 32, generator=data) * 2 - 1
        metrics = train_step(nets, opt_g, opt_d, pool_a, pool_b, real_A, real_B, rng)
        # -- junyanz: forward(), then backward_G, then backward_D_A / backward_D_B --
        fake_B = netG_A(real_A)
        rec_A = netG_B(fake_B)
        fake_A = netG_B(real_B)
        rec_B = netG_A(fake_A)
        set_requires_grad([netD_A, netD_B], False)
        optimizer_G.zero_grad()
        idt_A = netG_A(real_B)
        loss_idt_A = criterionIdt(idt_A, real_B) * lambda_B * lambda_idt
        idt_B = netG_B(real_A)
        loss_idt_B = criterionIdt(idt_B, real_A) * lambda_A * lambda_idt
        loss_G_A = gan_loss(netD_A(fake_B), True)
        loss_G_B = gan_loss(netD_B(fake_A), True)
        loss_cycle_A = criterionCycle(rec_A, real_A) * lambda_A
        loss_cycle_B = criterionCycle(rec_B, real_B) * lambda_B
        loss_G = loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B
        loss_G.backward()
        optimizer_G.step()
        set_requires_grad([netD_A, netD_B], True)
        optimizer_D.zero_grad()
        loss_D_A = backward_D_basic(netD_A, real_B, fake_B)
        loss_D_B = backward_D_basic(netD_B, real_A, fake_A)
        optimizer_D.step()
        want = {"loss_d_a": loss_D_A, "loss_d_b": loss_D_B, "loss_g_a": loss_G_A, "loss_g_b": loss_G_B,
                "loss_cycle_a": loss_cycle_A, "loss_cycle_b": loss_cycle_B, "loss_idt_a": loss_idt_A,
                "loss_idt_b": loss_idt_B}
        assert set(metrics) == set(LOSSES)
        for name, value in want.items():
            assert metrics[name] == pytest.approx(value.item(), rel=1e-6, abs=1e-7), name
    for theirs, ours in zip((netG_A, netG_B, netD_A, netD_B), nets.all(), strict=True):
        for (key, want_w), got_w in zip(theirs.state_dict().items(), ours.state_dict().values(), strict=True):
            assert torch.allclose(got_w, want_w, rtol=0, atol=1e-6), key


def test_the_pool_keeps_a_history_and_answers_with_it_half_the_time() -> None:
    rng = torch.Generator().manual_seed(0)
    assert ImagePool(0).query(x := torch.ones(2, 3, 4, 4), rng) is x  # pool_size 0: the latest only
    pool = ImagePool(3)
    first = pool.query(torch.stack([torch.full((3, 4, 4), float(i)) for i in range(2)]), rng)
    assert [float(v) for v in first[:, 0, 0, 0]] == [0, 1]  # filling up: straight back, each image on its own
    pool.query(torch.full((1, 3, 4, 4), 2.0), rng)
    assert [float(img[0, 0, 0, 0]) for img in pool.images] == [0, 1, 2]
    old = 0
    for i in range(3, 203):
        stored = [float(img[0, 0, 0, 0]) for img in pool.images]
        got = float(pool.query(torch.full((1, 3, 4, 4), float(i)), rng)[0, 0, 0, 0])
        now = [float(img[0, 0, 0, 0]) for img in pool.images]
        if got == i:  # the new image back, the pool untouched
            assert now == stored
        else:  # an old one back, and the new one in its place
            old += 1
            assert got in stored and now == [i if v == got else v for v in stored]
    assert 70 < old < 130  # probability 0.5
    assert pool.state().shape == (3, 3, 4, 4)


def test_the_lr_is_constant_then_falls_linearly_to_zero() -> None:
    # junyanz lambda_rule with n_epochs 2, n_epochs_decay 3, epoch_count 1
    assert [lr_factor(e, 2, 3) for e in range(6)] == [1, 1, 0.75, 0.5, 0.25, 0]
    assert lr_factor(0, 100, 100) == 1 and lr_factor(100, 100, 100) == pytest.approx(1 - 1 / 101)
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=2e-4)
    sched = lr_schedule(opt, tiny(epochs=2, epochs_decay=3))
    lrs = []
    for _ in range(5):  # the lr each epoch trains at; the schedule steps at the end of an epoch
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([2e-4, 2e-4, 1.5e-4, 1e-4, 0.5e-4])
    assert opt.param_groups[0]["lr"] == 0


def test_training_reports_the_lr_it_used_each_epoch() -> None:
    result = train(tiny(epochs=1, epochs_decay=2, report_every=6), domain_a(6), domain_b(4), NullProgress())
    assert [h["step"] for h in result.history] == [6, 12, 18]  # 6 steps per epoch: the larger set
    assert [h["lr"] for h in result.history] == pytest.approx([2e-4, 2e-4 * 2 / 3, 2e-4 / 3])


def test_augment_crops_and_flips_from_the_generator() -> None:
    images = torch.arange(2 * 3 * 6 * 6, dtype=torch.uint8).reshape(2, 3, 6, 6)
    a = augment(images, 4, True, torch.Generator().manual_seed(3))
    assert torch.equal(a, augment(images, 4, True, torch.Generator().manual_seed(3)))
    assert a.shape == (2, 3, 4, 4) and -1 <= a.min() and a.max() <= 1
    plain = augment(images, 6, False, torch.Generator())  # whole image, no flip: only rescaled
    assert torch.allclose(plain, images.float() / 127.5 - 1)
    crops = [(augment(images[:1], 4, True, torch.Generator().manual_seed(s)) + 1) * 127.5 for s in range(40)]
    windows = {images[0, :, t:t + 4, l:l + 4] for t in range(3) for l in range(3)}  # noqa: E741
    for crop in crops:
        c = crop.round().to(torch.uint8)[0]
        assert any(torch.equal(c, w) or torch.equal(c, w.flip(-1)) for w in windows)
    assert any(not any(torch.equal(c.round().to(torch.uint8)[0], w) for w in windows) for c in crops)  # flips
