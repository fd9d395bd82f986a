"""DCGAN training: the reference discriminator, reports with metrics and previews, a training
checkpoint that resumes exactly (also after a cancel), and a generator the catalog accepts."""

from __future__ import annotations

import copy
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import ml.dcgan.training as train_module
from ml.common.checkpoint import load_any, load_checkpoint
from ml.common.family import validate
from ml.common.progress import Cancelled, NullProgress
from ml.common.training import TrainError
from ml.dcgan.config import DCGANConfig, TrainConfig
from ml.dcgan.family import FAMILY
from ml.dcgan.formats import import_dcgan
from ml.dcgan.infer import grid, load, sample
from ml.dcgan.model import Discriminator, Generator
from ml.dcgan.train import main
from ml.dcgan.training import METRICS, init_weights, train_step
from ml.dcgan.training import train as train_on_any_device
from tests.ml.conftest import Recorder, on_cpu, same_weights, settings_from, shape_images, write_zip

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/ml/conftest.py

TINY = {"image_size": 32, "nz": 16, "ngf": 8, "ndf": 8, "batch_size": 4, "report_every": 2,
        "sample_every": 3, "checkpoint_every": 0}


train = on_cpu(train_on_any_device)
tiny = settings_from(TINY, TrainConfig)


def shapes(n: int = 12, seed: int = 0) -> list[Image.Image]:
    """Coloured discs and squares on grey, at assorted sizes and aspect ratios."""
    return shape_images(n, seed, (20, 90), squares=True)


# --- the nets ------------------------------------------------------------------------------------


class ReferenceDiscriminator(nn.Module):  # pytorch/examples dcgan/main.py, verbatim structure
    def __init__(self, nc: int = 3, ndf: int = 64) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.main(input).view(-1, 1).squeeze(1)


def test_the_discriminator_is_the_reference_layout_at_64_px() -> None:
    ref = ReferenceDiscriminator().eval()
    ours = Discriminator(DCGANConfig()).eval()
    theirs = {k: v.shape for k, v in ref.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == theirs
    ours.load_state_dict(ref.state_dict())
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(ours(x), ref(x))
    assert ours(x).shape == (3,)


def test_32_px_nets_are_one_block_shorter() -> None:
    cfg = DCGANConfig(nz=16, ngf=8, image_size=32)
    g, d = Generator(cfg), Discriminator(cfg, ndf=8)
    images = g(torch.randn(2, 16, 1, 1))
    assert images.shape == (2, 3, 32, 32) and d(images).shape == (2,)
    assert g.state_dict()["main.0.weight"].shape == (16, 32, 4, 4)  # ngf * 4 at 32 px
    assert max(int(k.split(".")[1]) for k in g.state_dict()) == 9
    assert max(int(k.split(".")[1]) for k in d.state_dict()) == 8
    # 64 px keeps its keys and its refusal of other sizes
    assert max(int(k.split(".")[1]) for k in Generator(DCGANConfig()).state_dict()) == 12
    with pytest.raises(ValueError, match="image_size must be 64 for this generator layout, got 128"):
        DCGANConfig(image_size=128)


def test_a_step_is_the_reference_step() -> None:
    """train_step against pytorch/examples dcgan/main.py's loop body, written out as it is there."""
    cfg = DCGANConfig(nz=16, ngf=8, image_size=32)
    torch.manual_seed(0)
    ours_g, ours_d = Generator(cfg), Discriminator(cfg, ndf=8)
    ref_g, ref_d = copy.deepcopy(ours_g), copy.deepcopy(ours_d)

    def adam(net: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))

    ours_opt_g, ours_opt_d = adam(ours_g), adam(ours_d)
    optimizerG, optimizerD = adam(ref_g), adam(ref_d)
    criterion = nn.BCELoss()
    for _ in range(2):
        real_cpu = torch.rand(4, 3, 32, 32) * 2 - 1
        noise = torch.randn(4, 16, 1, 1)
        metrics = train_step(ours_g, ours_d, ours_opt_g, ours_opt_d, criterion, real_cpu, noise)
        # -- the reference --
        ref_d.zero_grad()
        label = torch.full((4,), 1.0)
        output = ref_d(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        fake = ref_g(noise)
        label.fill_(0.0)
        output = ref_d(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()
        ref_g.zero_grad()
        label.fill_(1.0)
        output = ref_d(fake)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()
        assert metrics == {"loss_d": errD.item(), "loss_g": errG.item(), "d_x": D_x, "d_g_z": D_G_z1}
    assert same_weights(ours_g.state_dict(), ref_g.state_dict())
    assert same_weights(ours_d.state_dict(), ref_d.state_dict())


def test_weights_start_as_the_reference_initialises_them() -> None:
    net = Generator(DCGANConfig())
    init_weights(net, torch.Generator().manual_seed(0))
    conv, bn_scale, bn_shift = (net.main[0].weight.detach(), net.main[1].weight.detach(),
                                net.main[1].bias.detach())
    assert abs(float(conv.mean())) < 1e-3 and abs(float(conv.std()) - 0.02) < 1e-3
    assert abs(float(bn_scale.mean()) - 1) < 0.01 and float(bn_shift.abs().max()) == 0


# --- training ------------------------------------------------------------------------------------


def test_a_dry_run_reports_metrics_and_previews_and_writes_a_checkpoint(tmp_path: Path) -> None:
    progress = Recorder()
    result = train(TrainConfig(image_size=32, ngf=8, ndf=8, nz=16, epochs=2, dry_run=True), shapes(20),
                   progress, checkpoint_path=tmp_path / "run.pt")
    assert result.step == result.total_steps == 4  # 2 epochs x 2 steps
    assert result.images == 16 and result.batch_size == 4
    assert any("dry run" in note for note in result.notes)
    start, *reports = progress.updates
    assert (start["step"], start["total"], start["metrics"]) == (0, 4, None)
    assert start["message"] == "starting: 16 images, batch 4, 2 steps per epoch"
    assert [u["step"] for u in reports] == [1, 2, 3, 4]
    for update in reports:
        assert update["total"] == 4
        assert set(update["metrics"]) == set(METRICS)
        assert all(math.isfinite(v) for v in update["metrics"].values())
        assert isinstance(update["preview"], Image.Image) and update["preview"].size == (138, 138)  # 4x4
    assert 0 < result.final["d_x"] < 1 and 0 < result.final["d_g_z"] < 1
    assert [h["step"] for h in result.history] == [1, 2, 3, 4]
    state = load_any(tmp_path / "run.pt")  # weights_only: optimizers, RNG state and all
    assert state["format"] == "studio-dcgan-training" and state["step"] == 4
    assert {"generator", "discriminator", "opt_g", "opt_d", "rng", "fixed_noise", "history"} <= set(state)


def test_reports_follow_report_every_and_previews_sample_every() -> None:
    progress = Recorder()
    result = train(tiny(epochs=2), shapes(12), progress)  # 3 steps per epoch, 6 in all
    reports = [(u["step"], u["metrics"] is not None, u["preview"] is not None) for u in progress.updates]
    assert reports == [(0, False, False),  # the start
                       (2, True, False), (3, False, True), (4, True, False), (6, True, True)]
    assert [h["step"] for h in result.history] == [2, 4, 6]
    assert result.history[-1]["epoch"] == 2.0


def test_the_generator_checkpoint_validates_and_samples(tmp_path: Path) -> None:
    result = train(tiny(epochs=1), shapes(8), NullProgress())
    ckpt = result.checkpoint
    assert ckpt["family"] == "dcgan"
    assert ckpt["config"] == {"nz": 16, "ngf": 8, "nc": 3, "image_size": 32}
    report = validate(FAMILY, ckpt)
    assert report.ok, report.errors
    assert report.output_shape == (1, 3, 32, 32)
    assert ckpt["extra"]["metrics"] == result.final and ckpt["extra"]["images"] == 8
    torch.save(ckpt, tmp_path / "g.pt")  # as the CLI and the studio store it
    loaded = import_dcgan(tmp_path / "g.pt")
    model = load(loaded)
    assert isinstance(model, Generator)
    images = sample(model, 64, seed=0)
    assert images.shape == (64, 3, 32, 32) and 0 <= images.min() and images.max() <= 1
    # The preview shows what sampling the trained model with the run's seed gives.
    assert np.array_equal(np.asarray(result.preview), np.asarray(grid(images, nrow=8)))


def test_64_px_trains_too() -> None:
    result = train(TrainConfig(image_size=64, nz=16, ngf=4, ndf=4, epochs=1, dry_run=True), shapes(8),
                   NullProgress())
    assert validate(FAMILY, result.checkpoint).output_shape == (1, 3, 64, 64)


def test_resuming_gives_the_same_weights_as_one_run(tmp_path: Path) -> None:
    straight = train(tiny(epochs=2), shapes(12), NullProgress())
    first = train(tiny(epochs=1), shapes(12), NullProgress(), checkpoint_path=tmp_path / "run.pt")
    assert first.step == 3
    progress = Recorder()
    resumed = train(tiny(epochs=2), shapes(12), progress, checkpoint_path=tmp_path / "run.pt")
    assert resumed.resumed_from == 3 and resumed.step == 6
    assert progress.updates[0]["message"].startswith("resuming at step 3: 12 images")
    assert [u["step"] for u in progress.updates[1:]] == [4, 6]  # the step counter carried on
    assert same_weights(straight.checkpoint["state_dict"], resumed.checkpoint["state_dict"])
    # The first run's end (step 3, between reports) added a point of its own; the rest is the same.
    assert [h["step"] for h in resumed.history] == [2, 3, 4, 6]
    assert [h for h in resumed.history if h["step"] != 3] == straight.history
    assert straight.final == resumed.final


def test_without_resume_it_starts_over(tmp_path: Path) -> None:
    train(tiny(epochs=1), shapes(12), NullProgress(), checkpoint_path=tmp_path / "run.pt")
    again = train(tiny(epochs=2), shapes(12), NullProgress(), checkpoint_path=tmp_path / "run.pt",
                  resume=False)
    assert again.resumed_from == 0 and again.step == 6


def test_a_cancel_leaves_a_checkpoint_that_resumes_exactly(tmp_path: Path) -> None:
    straight = train(tiny(epochs=2), shapes(12), NullProgress())
    with pytest.raises(Cancelled):
        train(tiny(epochs=2), shapes(12), Recorder(cancel_after=4), checkpoint_path=tmp_path / "run.pt")
    assert load_any(tmp_path / "run.pt")["step"] == 4  # mid-epoch: 4 steps done, checked before the 5th
    resumed = train(tiny(epochs=2), shapes(12), NullProgress(), checkpoint_path=tmp_path / "run.pt")
    assert resumed.resumed_from == 4 and resumed.step == 6
    assert same_weights(straight.checkpoint["state_dict"], resumed.checkpoint["state_dict"])
    assert straight.history == resumed.history  # the half-filled report window was saved too


def test_periodic_checkpoints_are_written(tmp_path: Path) -> None:
    with pytest.raises(Cancelled):
        train(tiny(epochs=2, checkpoint_every=2), shapes(12), Recorder(cancel_after=3),
              checkpoint_path=tmp_path / "run.pt")
    assert load_any(tmp_path / "run.pt")["step"] == 3
    assert not (tmp_path / "run.pt.tmp").exists()


def test_a_finished_checkpoint_just_returns(tmp_path: Path) -> None:
    done = train(tiny(epochs=1), shapes(12), NullProgress(), checkpoint_path=tmp_path / "run.pt")
    progress = Recorder()
    again = train(tiny(epochs=1), shapes(12), progress, checkpoint_path=tmp_path / "run.pt")
    assert again.step == again.resumed_from == 3
    assert same_weights(done.checkpoint["state_dict"], again.checkpoint["state_dict"])
    assert [u["message"] for u in progress.updates] == ["already trained"]


@pytest.mark.parametrize(("change", "message"), [
    ({"lr": 1e-3}, r"other settings \(lr 0.0002 -> 0.001\)"),
    ({"image_size": 64}, r"other settings \(image_size 32 -> 64\)"),
])
def test_resuming_with_other_settings_is_refused(tmp_path: Path, change: dict, message: str) -> None:
    train(tiny(epochs=1), shapes(12), NullProgress(), checkpoint_path=tmp_path / "run.pt")
    with pytest.raises(TrainError, match=f"^cannot resume: the checkpoint was trained with {message}"):
        train(tiny(epochs=2, **change), shapes(12), NullProgress(), checkpoint_path=tmp_path / "run.pt")


def test_resuming_on_other_images_or_fewer_epochs_is_refused(tmp_path: Path) -> None:
    train(tiny(epochs=2), shapes(12), NullProgress(), checkpoint_path=tmp_path / "run.pt")
    with pytest.raises(TrainError, match=r"other images \(12 then, 12 now\)"):
        train(tiny(epochs=3), shapes(12, seed=5), NullProgress(), checkpoint_path=tmp_path / "run.pt")
    with pytest.raises(TrainError, match="at step 6, past this run's 3 steps"):
        train(tiny(epochs=1), shapes(12), NullProgress(), checkpoint_path=tmp_path / "run.pt")


def test_a_damaged_training_checkpoint_is_refused(tmp_path: Path) -> None:
    (tmp_path / "run.pt").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(TrainError, match="^cannot resume from run.pt: not a checkpoint"):
        train(tiny(epochs=1), shapes(12), NullProgress(), checkpoint_path=tmp_path / "run.pt")
    torch.save({"state_dict": {}}, tmp_path / "run.pt")
    with pytest.raises(TrainError, match="not a DCGAN training checkpoint"):
        train(tiny(epochs=1), shapes(12), NullProgress(), checkpoint_path=tmp_path / "run.pt")


def test_no_images_is_a_clear_error() -> None:
    with pytest.raises(TrainError, match="^no images to train on$"):
        train(tiny(), [], NullProgress())


def test_fewer_images_than_a_batch_lower_the_batch() -> None:
    result = train(tiny(batch_size=64, epochs=2), shapes(3), NullProgress())
    assert result.batch_size == 3 and result.step == 2  # one whole batch per epoch
    assert "only 3 images: batch size 64 lowered to 3" in result.notes
    assert any("a GAN needs hundreds" in note for note in result.notes)


def test_a_diverging_run_stops_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_module, "train_step", lambda *a: dict.fromkeys(METRICS, float("nan")))
    with pytest.raises(TrainError, match="^training diverged at step 1: loss_d, loss_g, d_x, d_g_z"):
        train(tiny(), shapes(8), NullProgress())


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="image_size must be one of"):
        tiny(image_size=48)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        tiny(batch_size=0)
    with pytest.raises(ValueError, match="resize_mode must be one of"):
        tiny(resize_mode="zoom")
    assert asdict(tiny())["image_size"] == 32


# --- command line --------------------------------------------------------------------------------


def test_the_cli_dry_run_writes_generator_grid_and_state_then_resumes(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    write_zip(tmp_path / "set.zip", shapes(20))
    out = tmp_path / "g.pt"
    args = [str(tmp_path / "set.zip"), "-o", str(out), "--size", "32", "--ngf", "8", "--ndf", "8",
            "--nz", "16", "--dry-run", "--device", "cpu"]
    assert main([*args, "--epochs", "1"]) == 0
    printed = capsys.readouterr()
    assert "skipped set/readme.txt: not an image" in printed.err
    assert "20 images" in printed.out and "wrote" in printed.out
    ckpt = load_checkpoint(out)
    assert validate(FAMILY, ckpt).ok
    assert Image.open(tmp_path / "g.png").size == (138, 138)
    assert load_any(tmp_path / "g.train.pt")["step"] == 2
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert "trained steps 2-4 of 4" in capsys.readouterr().out


def test_the_cli_reports_a_bad_zip(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "x.zip").write_bytes(b"nope")
    assert main([str(tmp_path / "x.zip"), "-o", str(tmp_path / "g.pt"), "--dry-run"]) == 1
    assert "error: not a zip file" in capsys.readouterr().err
