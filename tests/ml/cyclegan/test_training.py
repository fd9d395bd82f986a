"""CycleGAN training runs: reports with metrics and before/after previews, a training checkpoint that
resumes exactly (also after a cancel), refusals, the command line, and an A -> B generator the
catalog accepts (the recipe's parts: test_recipe.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ml.cyclegan.training as train_module
from ml.common.checkpoint import load_any, load_checkpoint
from ml.common.family import validate
from ml.common.image_zip import prepare_image
from ml.common.progress import Cancelled, NullProgress
from ml.common.training import TrainError
from ml.cyclegan.config import CycleGANConfig, TrainConfig
from ml.cyclegan.infer import load, translate
from ml.cyclegan.model import ResnetGenerator
from ml.cyclegan.train import main
from ml.cyclegan.training import LOSSES, METRICS
from ml.families import get_family
from tests.ml.conftest import Recorder, same_weights, write_zip
from tests.ml.cyclegan.conftest import domain_a, domain_b, tiny, train

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/ml/conftest.py


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
