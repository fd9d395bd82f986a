"""Fast-style training: a step is the perceptual-loss step written out by hand, reports with metrics and
before/after previews, a training checkpoint that resumes exactly (also after a cancel), and a network
the catalog accepts and stylize_fast runs. A tiny feature net stands in for EfficientNet-Lite0,
except in the command-line test, which loads the real one."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ml.common.checkpoint import load_any, load_checkpoint
from ml.common.family import validate
from ml.common.progress import Cancelled, NullProgress, Progress
from ml.common.training import TrainError, TrainResult
from ml.families import get_family
from ml.fast_style.config import TrainConfig
from ml.fast_style.data import random_crops
from ml.fast_style.infer import load as load_fast_style
from ml.fast_style.infer import stylize_fast
from ml.fast_style.model import TransformerNet
from ml.fast_style.train import main
from ml.fast_style.training import LAYERS, METRICS, style_grams, train_step
from ml.fast_style.training import train as train_on_any_device
from ml.features.formats import lite0_weights_path
from ml.features.model import FeatureNet
from tests.ml.conftest import (
    Recorder,
    gradient_image,
    on_cpu,
    same_weights,
    settings_from,
    texture_image,
    write_zip,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/ml/conftest.py

TINY = {"style_name": "stripes", "image_size": 16, "style_size": 24, "batch_size": 2, "report_every": 2,
        "sample_every": 3, "checkpoint_every": 0}


class TinyFeatures(FeatureNet):
    """Four small convs standing in for a feature network, with the layer names train() reads."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(LAYERS, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
        with torch.random.fork_rng(devices=[]):  # seeded weights, the global generator left alone
            torch.manual_seed(seed)
            self.convs = nn.ModuleList([nn.Conv2d(3, 4, 3, 2, 1), nn.Conv2d(4, 6, 3, 2, 1),
                                        nn.Conv2d(6, 8, 3, 1, 1), nn.Conv2d(8, 8, 3, 2, 1)])
        self.freeze()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h1 = F.relu(self.convs[0](self.normalise(x)))
        h2 = F.relu(self.convs[1](h1))
        h3 = F.relu(self.convs[2](h2))
        h4 = F.relu(self.convs[3](h3))
        return {"conv1_1": h1, "conv2_1": h2, "conv3_1": h3, "conv4_2": h3, "conv4_1": h4, "conv5_1": h4}


FEATURES = TinyFeatures()
STYLE = texture_image((40, 30))


def other_features() -> TinyFeatures:
    """The same class with other weights, as a catalog checkpoint's digest tells them apart."""
    features = TinyFeatures(seed=1)
    features.weights_key = "other"
    return features


def train(cfg: TrainConfig, content: list[Image.Image], progress: Progress, *, style: Image.Image = STYLE,
          features: FeatureNet = FEATURES, **kw: Any) -> TrainResult:
    return on_cpu(train_on_any_device)(cfg, style, content, features, progress, **kw)


tiny = settings_from(TINY, TrainConfig)


def photos(n: int = 5, seed: int = 0) -> list[Image.Image]:
    """Gradient pictures of assorted sizes and aspect ratios, each tinted differently."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        size = (int(rng.integers(24, 60)), int(rng.integers(24, 60)))
        arr = np.asarray(gradient_image(size), dtype=np.float32) * rng.uniform(0.5, 1.0, 3)
        out.append(Image.fromarray(arr.astype(np.uint8)))
    return out


# --- the loss ------------------------------------------------------------------------------------


def test_a_step_is_the_perceptual_loss_step_written_out() -> None:
    """train_step against the example's loop body (neural_style.py train), with relative errors and
    the Gatys layers, written out here without the module's helpers."""
    cfg = tiny(content_weight=2.0, style_weight=3.0, tv_weight=0.5)
    torch.manual_seed(1)
    ours = TransformerNet()
    ref = copy.deepcopy(ours)
    start = copy.deepcopy(ours.state_dict())
    # SGD, not the recipe's Adam, to compare the updates: the convs' biases before instance norm get
    # gradients of pure rounding noise (~1e-9), which Adam scales up to full lr-sized steps.
    ours_opt = torch.optim.SGD(ours.parameters(), lr=0.1)
    optimizer = torch.optim.SGD(ref.parameters(), lr=0.1)
    style = torch.rand(1, 3, 24, 20)
    grams = style_grams(FEATURES, style)

    def gram_matrix(y: torch.Tensor) -> torch.Tensor:  # the example's utils.gram_matrix
        (b, ch, h, w) = y.size()
        features = y.view(b, ch, w * h)
        return features.bmm(features.transpose(1, 2)) / (ch * h * w)

    gram_style = {k: gram_matrix(v) for k, v in FEATURES(style).items()}
    assert all(torch.allclose(grams[k], gram_style[k]) for k in grams)
    layer_weights = {"conv1_1": 1.0, "conv2_1": 0.75, "conv3_1": 0.2, "conv4_1": 0.2, "conv5_1": 0.2}
    for _ in range(2):
        x = torch.rand(2, 3, 16, 16) * 255
        metrics = train_step(ours, FEATURES, ours_opt, x, grams, cfg)
        # -- written out --
        optimizer.zero_grad()
        y = ref(x)
        features_y, features_x = FEATURES(y / 255), FEATURES(x / 255)
        content_loss = cfg.content_weight * F.mse_loss(features_y["conv4_2"], features_x["conv4_2"]) \
            / (features_x["conv4_2"] ** 2).mean()
        style_loss = torch.zeros(())
        for layer, w in layer_weights.items():
            gm_y, gm_s = gram_matrix(features_y[layer]), gram_style[layer]
            style_loss = style_loss + w * F.mse_loss(gm_y, gm_s.expand_as(gm_y)) / (gm_s ** 2).mean()
        style_loss = cfg.style_weight * style_loss
        y01 = y / 255
        tv = cfg.tv_weight * ((y01[:, :, 1:] - y01[:, :, :-1]).abs().mean()
                              + (y01[:, :, :, 1:] - y01[:, :, :, :-1]).abs().mean())
        total_loss = content_loss + style_loss + tv
        total_loss.backward()
        optimizer.step()
        expected = {"content": content_loss.item(), "style": style_loss.item(), "tv": tv.item(),
                    "total": total_loss.item()}
        assert metrics.keys() == expected.keys()
        assert all(math.isclose(metrics[k], expected[k], rel_tol=1e-5) for k in expected), (metrics, expected)
    # The updates agree to rounding (float32 sums in other orders; the floor is for those biases).
    for k, v in ref.state_dict().items():
        ours_update, ref_update = ours.state_dict()[k] - start[k], v - start[k]
        assert (ours_update - ref_update).norm() <= 1e-4 * ref_update.norm() + 1e-6, k


def test_random_crops_come_from_the_photos_seeded() -> None:
    colours = torch.tensor([[10, 20, 30], [200, 100, 0], [0, 255, 90]], dtype=torch.uint8)
    data = colours[:, :, None, None].expand(3, 3, 24, 24).contiguous()  # three flat photos
    batch = random_crops(data, 5, 16, torch.Generator().manual_seed(0))
    assert batch.shape == (5, 3, 16, 16) and batch.dtype == torch.float32
    means = batch.mean(dim=(2, 3)).round()
    assert sorted(means[:3].tolist()) == sorted(colours.float().tolist())  # no repeats while photos last
    again = random_crops(data, 5, 16, torch.Generator().manual_seed(0))
    assert torch.equal(batch, again)
    ramp = torch.arange(24, dtype=torch.uint8).repeat(1, 3, 24, 1)  # (1, 3, 24, 24), brighter to the right
    crops = random_crops(ramp, 16, 16, torch.Generator().manual_seed(1))
    flipped = crops[..., 0] > crops[..., -1]
    assert 0 < int(flipped[:, 0, 0].sum()) < 16  # some crops flipped, some not


# --- training ------------------------------------------------------------------------------------


def test_a_dry_run_reports_metrics_and_previews_and_writes_a_checkpoint(tmp_path: Path) -> None:
    progress = Recorder()
    result = train(TrainConfig(style_name="stripes", dry_run=True), photos(6), progress,
                   checkpoint_path=tmp_path / "run.pt")
    assert result.step == result.total_steps == 2
    assert result.images == 4 and result.batch_size == 2
    assert "dry run: 4 photos at 32 px, batch 2, 2 steps" in result.notes
    start, *reports = progress.updates
    assert (start["step"], start["total"], start["metrics"]) == (0, 2, None)
    assert start["message"] == "starting: 4 photos, batch 2, 32 px"
    assert [u["step"] for u in reports] == [1, 2]
    for update in reports:
        assert set(update["metrics"]) == set(METRICS)
        assert all(math.isfinite(v) for v in update["metrics"].values())
        # photos over their stylized versions: 3 tiles of 32 px a row, 2 px padding
        assert isinstance(update["preview"], Image.Image) and update["preview"].size == (104, 70)
    final = result.final
    assert math.isclose(final["total"], final["content"] + final["style"] + final["tv"], rel_tol=1e-5)
    state = load_any(tmp_path / "run.pt")  # weights_only: Adam's state, RNG state and all
    assert state["format"] == "studio-fast-style-training" and state["step"] == 2
    assert {"net", "optimizer", "rng", "history", "window", "plan"} <= set(state)
    adam = state["optimizer"]["param_groups"][0]
    assert adam["lr"] == 1e-3 and adam["betas"] == (0.9, 0.999)  # the recipe's Adam


def test_reports_follow_report_every_and_previews_sample_every() -> None:
    progress = Recorder()
    result = train(tiny(steps=6), photos(), progress)
    reports = [(u["step"], u["metrics"] is not None, u["preview"] is not None) for u in progress.updates]
    assert reports == [(0, False, False), (2, True, False), (3, False, True), (4, True, False),
                       (6, True, True)]
    assert [h["step"] for h in result.history] == [2, 4, 6]
    assert result.history[-1]["epoch"] == 6 * 2 / 5  # photos seen / photos
    # Previews leave training alone.
    quiet = train(tiny(steps=6, sample_every=0), photos(), NullProgress())
    assert same_weights(result.checkpoint["state_dict"], quiet.checkpoint["state_dict"])


def test_the_result_validates_and_stylizes(tmp_path: Path) -> None:
    result = train(tiny(steps=2), photos(), NullProgress())
    ckpt = result.checkpoint
    assert ckpt["family"] == "fast-style"
    assert ckpt["config"] == {"kind": "transformer-net", "styles": ["stripes"], "n_styles": 1}
    report = validate(get_family("fast-style"), ckpt)
    assert report.ok, report.errors
    extra = ckpt["extra"]
    assert extra["metrics"] == result.final and extra["steps"] == 2 and extra["images"] == 5
    assert extra["features"] == {"network": "TinyFeatures", "weights_key": None}
    assert extra["train_config"]["style_name"] == "stripes"
    torch.save(ckpt, tmp_path / "net.pt")  # as the CLI and the studio store it
    model = load_fast_style(tmp_path / "net.pt")
    # The preview's bottom row is what stylize_fast makes of its top row with the saved network.
    preview = np.asarray(result.preview)
    photo = Image.fromarray(preview[2:18, 2:18])
    out = stylize_fast(model, photo, device="cpu")
    assert out.size == (16, 16)
    assert np.array_equal(np.asarray(out), preview[20:36, 2:18])


def test_resuming_gives_the_same_weights_as_one_run(tmp_path: Path) -> None:
    straight = train(tiny(steps=6), photos(), NullProgress())
    first = train(tiny(steps=3), photos(), NullProgress(), checkpoint_path=tmp_path / "run.pt")
    assert first.step == 3
    progress = Recorder()
    resumed = train(tiny(steps=6), photos(), progress, checkpoint_path=tmp_path / "run.pt")
    assert resumed.resumed_from == 3 and resumed.step == 6
    assert progress.updates[0]["message"] == "resuming at step 3: 5 photos, batch 2, 16 px"
    assert [u["step"] for u in progress.updates[1:]] == [4, 6]
    assert same_weights(straight.checkpoint["state_dict"], resumed.checkpoint["state_dict"])
    # The first run's end (step 3, between reports) added a point of its own; the rest is the same.
    assert [h for h in resumed.history if h["step"] != 3] == straight.history
    assert straight.final == resumed.final
    again = train(tiny(steps=6), photos(), Recorder(), checkpoint_path=tmp_path / "run.pt", resume=False)
    assert again.resumed_from == 0


def test_a_cancel_leaves_a_checkpoint_that_resumes_exactly(tmp_path: Path) -> None:
    straight = train(tiny(steps=5), photos(), NullProgress())
    with pytest.raises(Cancelled):
        train(tiny(steps=5), photos(), Recorder(cancel_after=3), checkpoint_path=tmp_path / "run.pt")
    assert load_any(tmp_path / "run.pt")["step"] == 3  # 3 steps done, checked before the 4th
    resumed = train(tiny(steps=5), photos(), NullProgress(), checkpoint_path=tmp_path / "run.pt")
    assert resumed.resumed_from == 3 and resumed.step == 5
    assert same_weights(straight.checkpoint["state_dict"], resumed.checkpoint["state_dict"])
    assert straight.history == resumed.history  # the half-filled report window was saved too
    progress = Recorder()
    done = train(tiny(steps=5), photos(), progress, checkpoint_path=tmp_path / "run.pt")
    assert done.step == done.resumed_from == 5
    assert [u["message"] for u in progress.updates] == ["already trained"]


@pytest.mark.parametrize(("change", "message"), [
    ({"cfg": {"lr": 1e-2}}, r"other settings \(lr 0.001 -> 0.01\)"),
    ({"cfg": {"image_size": 20}}, r"other settings \(image_size 16 -> 20\)"),
    ({"cfg": {"style_weight": 0.5}}, rf"other settings \(style_weight {TrainConfig().style_weight} -> 0.5\)"),
    ({"style": texture_image((40, 30), seed=2)}, "another style image"),
    ({"content": photos(seed=3)}, r"other photos \(5 then, 5 now\)"),
    ({"features": other_features()}, r"feature network \(TinyFeatures then, TinyFeatures@other now\)"),
    ({"cfg": {"steps": 2}}, "at step 3, past this run's 2 steps"),
])
def test_resuming_with_other_settings_style_or_data_is_refused(tmp_path: Path, change: dict,
                                                               message: str) -> None:
    train(tiny(steps=3), photos(), NullProgress(), checkpoint_path=tmp_path / "run.pt")
    with pytest.raises(TrainError, match=f"^cannot resume: .*{message}"):
        train(tiny(**{"steps": 6, **change.get("cfg", {})}), change.get("content", photos()), NullProgress(),
              style=change.get("style", STYLE), features=change.get("features", FEATURES),
              checkpoint_path=tmp_path / "run.pt")


def test_unusable_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainError, match="^no content photos to train on$"):
        train(tiny(), [], NullProgress())

    class Shallow(TinyFeatures):
        def __init__(self) -> None:
            super().__init__()
            self.layers = ("conv1_1", "conv2_1")

    lacks = "^the feature network lacks layers conv3_1, conv4_1, conv4_2, conv5_1$"
    with pytest.raises(TrainError, match=lacks):
        train(tiny(), photos(), NullProgress(), features=Shallow())
    (tmp_path / "run.pt").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(TrainError, match="^cannot resume from run.pt: not a checkpoint"):
        train(tiny(), photos(), NullProgress(), checkpoint_path=tmp_path / "run.pt")


def test_one_photo_fills_a_batch_with_crops_of_it() -> None:
    result = train(tiny(steps=1, batch_size=3), photos(1), NullProgress())
    assert result.batch_size == 3 and result.step == 1
    assert any("only 1 photos for a batch of 3" in note for note in result.notes)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="image_size must be a multiple of 4"):
        tiny(image_size=30)
    with pytest.raises(ValueError, match="style names must be unique and non-empty"):
        tiny(style_name="")
    with pytest.raises(ValueError, match="tv_weight must be 0 or more"):
        tiny(tv_weight=-1.0)


# --- command line --------------------------------------------------------------------------------


def test_the_cli_dry_run_writes_network_preview_and_state_then_resumes(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    """With the real EfficientNet-Lite0 weights, as the package ships them."""
    write_zip(tmp_path / "set.zip", photos(5))
    STYLE.save(tmp_path / "stripes.png")
    out = tmp_path / "net.pt"
    args = [str(tmp_path / "stripes.png"), "--features", str(lite0_weights_path()), "--content",
            str(tmp_path / "set.zip"), "-o", str(out), "--dry-run", "--device", "cpu"]
    assert main([*args, "--steps", "1"]) == 0
    printed = capsys.readouterr()
    assert "skipped set/readme.txt: not an image" in printed.err
    assert "5 content photos from" in printed.out and "loss network efficientnet-lite0" in printed.out
    ckpt = load_checkpoint(out)
    assert validate(get_family("fast-style"), ckpt).ok
    assert ckpt["config"]["styles"] == ["stripes"]
    assert ckpt["extra"]["features"]["network"] == "efficientnet-lite0"
    assert len(ckpt["extra"]["features"]["sha256"]) == 64
    assert Image.open(tmp_path / "net.png").size == (104, 70)
    assert load_any(tmp_path / "net.train.pt")["step"] == 1
    assert main([*args, "--steps", "2", "--resume"]) == 0
    assert "trained steps 1-2 of 2" in capsys.readouterr().out
    stylized = stylize_fast(load_fast_style(out), gradient_image((40, 32)), device="cpu")
    assert stylized.size == (40, 32)


def test_the_cli_reports_bad_content(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    STYLE.save(tmp_path / "s.png")
    (tmp_path / "x.zip").write_bytes(b"nope")
    (tmp_path / "empty").mkdir()
    base = [str(tmp_path / "s.png"), "--features", str(tmp_path / "missing.pt"), "-o", str(tmp_path / "n.pt")]
    assert main([*base, "--content", str(tmp_path / "x.zip"), "--dry-run"]) == 1
    assert "error: not a zip file" in capsys.readouterr().err
    assert main([*base, "--content", str(tmp_path / "empty"), "--dry-run"]) == 1
    assert "error: " in capsys.readouterr().err
    assert main([*base, "--size", "30"]) == 2
    assert "error: image_size must be a multiple of 4" in capsys.readouterr().err

