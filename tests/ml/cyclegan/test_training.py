"""CycleGAN training: the junyanz PatchGAN layout, a step equal to junyanz's optimize_parameters, the
image pool, the lr schedule, reports with metrics and before/after previews, a training checkpoint
that resumes exactly (also after a cancel), and an A -> B generator the catalog accepts."""

from __future__ import annotations

import copy
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import ml.cyclegan.training as train_module
from ml.common.checkpoint import load_any, load_checkpoint
from ml.common.family import validate
from ml.common.image_zip import prepare_image
from ml.common.progress import Cancelled, NullProgress
from ml.common.training import TrainError
from ml.cyclegan.config import CycleGANConfig, TrainConfig
from ml.cyclegan.data import ImagePool, augment
from ml.cyclegan.infer import load, translate
from ml.cyclegan.model import CycleNets, NLayerDiscriminator, ResnetGenerator, init_weights
from ml.cyclegan.train import main
from ml.cyclegan.training import LOSSES, METRICS, lr_factor, lr_schedule, train_step
from ml.cyclegan.training import train as train_on_any_device
from ml.families import get_family
from tests.ml.conftest import Recorder, on_cpu, same_weights, settings_from, shape_images, write_zip
from tests.ml.cyclegan.reference import JunyanzNLayerDiscriminator, JunyanzResnetGenerator, get_norm_layer

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/ml/conftest.py

# 32 px crops of 36 px squares, tiny nets; a pool of 2 so the pool's random swaps happen within a
# few steps (and resumes must reproduce them).
TINY = {"image_size": 32, "ngf": 4, "ndf": 4, "n_blocks": 1, "pool_size": 2, "report_every": 2,
        "sample_every": 3, "checkpoint_every": 0, "epochs": 1, "epochs_decay": 1}


train = on_cpu(train_on_any_device)
tiny = settings_from(TINY, TrainConfig)


def domain_a(n: int = 6, seed: int = 0) -> list[Image.Image]:
    """Coloured discs on grey, at assorted sizes and aspect ratios."""
    return shape_images(n, seed, (30, 70))


def domain_b(n: int = 4, seed: int = 1) -> list[Image.Image]:
    """Diagonal stripes in two random colours."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        w, h = int(rng.integers(30, 70)), int(rng.integers(30, 70))
        yy, xx = np.mgrid[0:h, 0:w]
        stripes = (((xx + yy) // 4) % 2)[..., None] == 1
        arr = np.where(stripes, rng.integers(0, 255, 3), rng.integers(0, 255, 3)).astype(np.uint8)
        out.append(Image.fromarray(arr))
    return out


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


# --- training ------------------------------------------------------------------------------------


def test_a_dry_run_reports_metrics_and_previews_and_writes_a_checkpoint(tmp_path: Path) -> None:
    progress = Recorder()
    cfg = TrainConfig(image_size=32, ngf=4, ndf=4, n_blocks=1, epochs=1, epochs_decay=1, dry_run=True)
    result = train(cfg, domain_a(9), domain_b(7), progress, checkpoint_path=tmp_path / "run.pt")
    assert result.step == result.total_steps == 4  # 2 epochs x 2 steps
    assert result.images == 8 and result.batch_size == 1  # 4 per domain
    assert "dry run: 4 + 4 images (A + B), batch 1, 2 steps per epoch" in result.notes
    start, *reports = progress.updates
    assert (start["step"], start["total"], start["metrics"]) == (0, 4, None)
    assert start["message"] == "starting: 4 + 4 images (A + B), batch 1, 2 steps per epoch"
    assert [u["step"] for u in reports] == [1, 2, 3, 4]
    for update in reports:
        assert set(update["metrics"]) == set(METRICS)
        assert all(math.isfinite(v) for v in update["metrics"].values())
        assert update["preview"].size == (4 * 34 + 2, 4 * 34 + 2)  # 4 rows (A, G_A(A), B, G_B(B)) of 4
    assert [h["lr"] for h in result.history] == pytest.approx([2e-4, 2e-4, 1e-4, 1e-4])
    state = load_any(tmp_path / "run.pt")  # weights_only: optimizers, schedules, pools, RNG state
    assert state["format"] == "studio-cyclegan-training" and state["step"] == 4
    assert {"g_a", "g_b", "d_a", "d_b", "opt_g", "opt_d", "sched_g", "sched_d", "pool_a", "pool_b", "rng",
            "history", "window", "perm"} <= set(state)
    assert state["pool_a"].shape == (4, 3, 32, 32)  # 4 fakes so far, under the pool's 50


def test_reports_follow_report_every_and_previews_sample_every() -> None:
    progress = Recorder()
    result = train(tiny(epochs=1, epochs_decay=0), domain_a(6), domain_b(4), progress)  # 6 steps
    reports = [(u["step"], u["metrics"] is not None, u["preview"] is not None) for u in progress.updates]
    assert reports == [(0, False, False),  # the start
                       (2, True, False), (3, False, True), (4, True, False), (6, True, True)]
    assert result.history[-1]["epoch"] == 1.0


def test_the_generator_checkpoint_validates_and_translates(tmp_path: Path) -> None:
    a, b = domain_a(6), domain_b(4)
    result = train(tiny(), a, b, NullProgress())
    ckpt = result.checkpoint
    assert ckpt["family"] == "cyclegan"
    assert ckpt["config"] == {"input_nc": 3, "output_nc": 3, "ngf": 4, "n_blocks": 1, "norm": "instance",
                              "affine": False, "use_dropout": False}
    family = get_family("cyclegan")
    report = validate(family, ckpt)
    assert report.ok, report.errors
    assert ckpt["extra"]["images"] == {"a": 6, "b": 4} and ckpt["extra"]["metrics"] == result.final
    assert ckpt["extra"]["train_config"]["load_size"] == 36  # 32 * 286 / 256
    torch.save(ckpt, tmp_path / "a2b.pt")  # as the CLI writes it
    g_a = load(tmp_path / "a2b.pt")
    out = translate(g_a, a[1])
    assert out.size == a[1].size and out.mode == "RGB"
    g_b = ResnetGenerator(CycleGANConfig(ngf=4, n_blocks=1))
    g_b.load_state_dict(ckpt["extra"]["generator_b2a"])  # B -> A is kept, in the same layout
    # The preview's second row is what the studio's translate makes of the first row's crops.
    grid = np.asarray(result.preview, dtype=np.int16)
    for col, image in enumerate(a[:4]):
        x = 2 + col * 34
        crop = prepare_image(image, 36).crop((2, 2, 34, 34))
        assert np.abs(grid[2:34, x:x + 32] - np.asarray(crop, dtype=np.int16)).max() == 0
        assert np.abs(grid[36:68, x:x + 32] - np.asarray(translate(g_a, crop), dtype=np.int16)).max() <= 1


def test_resuming_gives_the_same_weights_as_one_run(tmp_path: Path) -> None:
    a, b = domain_a(6), domain_b(4)
    straight = train(tiny(), a, b, NullProgress(), checkpoint_path=tmp_path / "straight.pt")
    first = train(tiny(epochs_decay=0), a, b, NullProgress(), checkpoint_path=tmp_path / "run.pt")
    assert first.step == 6
    progress = Recorder()
    resumed = train(tiny(), a, b, progress, checkpoint_path=tmp_path / "run.pt")
    assert resumed.resumed_from == 6 and resumed.step == 12
    assert progress.updates[0]["message"].startswith("resuming at step 6: 6 + 4 images")
    assert same_weights(straight.checkpoint["state_dict"], resumed.checkpoint["state_dict"])
    b2a = "generator_b2a"
    assert same_weights(straight.checkpoint["extra"][b2a], resumed.checkpoint["extra"][b2a])
    ends = load_any(tmp_path / "straight.pt"), load_any(tmp_path / "run.pt")
    for key in ("d_a", "d_b"):
        assert same_weights(ends[0][key], ends[1][key])
    for key in ("pool_a", "pool_b"):
        assert torch.equal(ends[0][key], ends[1][key])
    assert straight.history == resumed.history and straight.final == resumed.final  # lr 1e-4 after the epoch


def test_a_cancel_leaves_a_checkpoint_that_resumes_exactly(tmp_path: Path) -> None:
    a, b = domain_a(6), domain_b(4)
    straight = train(tiny(), a, b, NullProgress())
    with pytest.raises(Cancelled):
        train(tiny(), a, b, Recorder(cancel_after=9), checkpoint_path=tmp_path / "run.pt")
    assert load_any(tmp_path / "run.pt")["step"] == 9  # mid-epoch, mid-report-window
    resumed = train(tiny(), a, b, NullProgress(), checkpoint_path=tmp_path / "run.pt")
    assert resumed.resumed_from == 9 and resumed.step == 12
    assert same_weights(straight.checkpoint["state_dict"], resumed.checkpoint["state_dict"])
    assert straight.history == resumed.history  # the half-filled report window was saved too
    assert np.array_equal(np.asarray(straight.preview), np.asarray(resumed.preview))


def test_periodic_checkpoints_are_written(tmp_path: Path) -> None:
    with pytest.raises(Cancelled):
        train(tiny(checkpoint_every=2), domain_a(6), domain_b(4), Recorder(cancel_after=5),
              checkpoint_path=tmp_path / "run.pt")
    assert load_any(tmp_path / "run.pt")["step"] == 5
    assert not (tmp_path / "run.pt.tmp").exists()


def test_a_finished_checkpoint_just_returns(tmp_path: Path) -> None:
    done = train(tiny(epochs_decay=0), domain_a(6), domain_b(4), NullProgress(),
                 checkpoint_path=tmp_path / "r.pt")
    progress = Recorder()
    again = train(tiny(epochs_decay=0), domain_a(6), domain_b(4), progress, checkpoint_path=tmp_path / "r.pt")
    assert again.step == again.resumed_from == 6
    assert same_weights(done.checkpoint["state_dict"], again.checkpoint["state_dict"])
    assert [u["message"] for u in progress.updates] == ["already trained"]


@pytest.mark.parametrize(("change", "message"), [
    ({"lambda_identity": 0.0}, r"other settings \(lambda_identity 0.5 -> 0.0\)"),
    ({"image_size": 36}, r"other settings \(image_size 32 -> 36; load_size 36 -> 40\)"),
    ({"pool_size": 50}, r"other settings \(pool_size 2 -> 50\)"),
])
def test_resuming_with_other_settings_is_refused(tmp_path: Path, change: dict, message: str) -> None:
    train(tiny(epochs_decay=0), domain_a(6), domain_b(4), NullProgress(), checkpoint_path=tmp_path / "run.pt")
    with pytest.raises(TrainError, match=f"^cannot resume: the checkpoint was trained with {message}"):
        train(tiny(**change), domain_a(6), domain_b(4), NullProgress(), checkpoint_path=tmp_path / "run.pt")


def test_resuming_on_other_images_or_fewer_epochs_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run.pt"
    train(tiny(), domain_a(6), domain_b(4), NullProgress(), checkpoint_path=run)
    with pytest.raises(TrainError, match=r"other images \(A 6 then, 6 now; B 4 then, 4 now\)"):
        train(tiny(epochs=3), domain_a(6), domain_b(4, seed=5), NullProgress(), checkpoint_path=run)
    with pytest.raises(TrainError, match=r"other images \(A 6 then, 6 now; B 4 then, 4 now\)"):
        train(tiny(epochs=3), domain_b(6), domain_a(4), NullProgress(), checkpoint_path=run)
    with pytest.raises(TrainError, match=r"at step 12, past this run's 6 steps \(1 \+ 0 epochs\)"):
        train(tiny(epochs_decay=0), domain_a(6), domain_b(4), NullProgress(), checkpoint_path=run)


def test_a_damaged_training_checkpoint_is_refused(tmp_path: Path) -> None:
    torch.save({"format": "studio-dcgan-training", "version": 1}, tmp_path / "run.pt")
    with pytest.raises(TrainError, match="not a CycleGAN training checkpoint"):
        train(tiny(), domain_a(6), domain_b(4), NullProgress(), checkpoint_path=tmp_path / "run.pt")


@pytest.mark.parametrize("empty", ["A", "B"])
def test_an_empty_domain_is_named(empty: str) -> None:
    a, b = ([], domain_b()) if empty == "A" else (domain_a(), [])
    with pytest.raises(TrainError, match=f"^no images in domain {empty} to train on$"):
        train(tiny(), a, b, NullProgress())


def test_few_images_are_noted_and_a_large_batch_lowered() -> None:
    result = train(tiny(batch_size=8, epochs_decay=0), domain_a(3), domain_b(2), NullProgress())
    assert result.batch_size == 3 and result.step == 1  # one batch of A, each with a random B
    assert "only 3 images in the larger set: batch size 8 lowered to 3" in result.notes
    assert any("only 2 images in domain B" in note for note in result.notes)
    assert result.preview.size == (2 * 34 + 2, 4 * 34 + 2)  # 2 columns: as many A as there are B


def test_a_diverging_run_stops_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_module, "train_step", lambda *a, **kw: dict.fromkeys(LOSSES, float("nan")))
    with pytest.raises(TrainError, match="^training diverged at step 1: loss_d_a, loss_d_b, loss_g_a"):
        train(tiny(), domain_a(), domain_b(), NullProgress())


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="image_size must be a multiple of 4, at least 32"):
        tiny(image_size=30)
    with pytest.raises(ValueError, match="load_size must be at least image_size"):
        tiny(load_size=28)
    with pytest.raises(ValueError, match="pool_size must be 0 or more"):
        tiny(pool_size=-1)
    assert TrainConfig().load_size == 286 and TrainConfig(image_size=128).load_size == 143


# --- command line --------------------------------------------------------------------------------


def test_the_cli_dry_run_writes_generator_preview_and_state_then_resumes(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_zip(tmp_path / "a.zip", domain_a(6))
    (tmp_path / "b").mkdir()
    for i, img in enumerate(domain_b(5)):
        img.save(tmp_path / "b" / f"{i}.png")
    out = tmp_path / "a2b.pt"
    args = [str(tmp_path / "a.zip"), str(tmp_path / "b"), "-o", str(out), "--size", "32", "--ngf", "4",
            "--ndf", "4", "--n-blocks", "1", "--dry-run", "--device", "cpu", "--epochs", "1"]
    assert main([*args, "--epochs-decay", "0"]) == 0
    printed = capsys.readouterr()
    assert "skipped set/readme.txt: not an image" in printed.err
    assert "domain A: 6 images" in printed.out and "domain B: 5 images" in printed.out
    assert "trained steps 0-2 of 2" in printed.out
    assert validate(get_family("cyclegan"), load_checkpoint(out)).ok
    assert Image.open(tmp_path / "a2b.png").size == (138, 138)
    assert load_any(tmp_path / "a2b.train.pt")["step"] == 2
    assert main([*args, "--resume"]) == 0  # a dry run's decay epochs default to 1
    assert "trained steps 2-4 of 4" in capsys.readouterr().out


def test_the_cli_reports_a_bad_zip_and_bad_settings(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "x.zip").write_bytes(b"nope")
    write_zip(tmp_path / "a.zip", domain_a(2))
    assert main([str(tmp_path / "a.zip"), str(tmp_path / "x.zip"), "-o", str(tmp_path / "g.pt"),
                 "--dry-run"]) == 1
    assert "error: domain B" in (err := capsys.readouterr().err) and "not a zip file" in err
    assert main([str(tmp_path / "a.zip"), str(tmp_path / "a.zip"), "--size", "30"]) == 2
    assert "image_size must be a multiple of 4" in capsys.readouterr().err
