"""Sentiment training: the test-set figures (ROC AUC against a pair count), dry runs of both kinds
that report and write a checkpoint the catalog accepts, exact resume after a cancel, the command line."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch

from ml.common.checkpoint import load_checkpoint
from ml.common.family import validate
from ml.common.metrics import report, roc_auc, roc_curve
from ml.common.progress import Cancelled, NullProgress
from ml.common.training import TrainError
from ml.families import get_family
from ml.sentiment.config import TrainConfig
from ml.sentiment.data import LabelledTexts
from ml.sentiment.train import main
from ml.sentiment.training import train
from tests.ml.conftest import Recorder, same_weights

pytestmark = pytest.mark.usefixtures("one_thread")
CPU = torch.device("cpu")  # exact resumes are a CPU property

GOOD = ["great", "wonderful", "superb", "loved", "brilliant"]
BAD = ["awful", "boring", "terrible", "hated", "dull"]
FILLER = ["the", "film", "plot", "actors", "was", "a", "and", "story", "it", "music"]


def synthetic(n: int, seed: int = 0) -> LabelledTexts:
    """Reviews of filler words with one or two sentiment words: learnable in a few epochs."""
    rnd = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = rnd.choices(FILLER, k=rnd.randint(3, 12))
        words += rnd.choices(GOOD if label else BAD, k=rnd.randint(1, 2))
        rnd.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return LabelledTexts(texts, labels)


def brute_force_auc(scores: list[float], labels: list[int]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def test_roc_auc_matches_pair_count_with_ties() -> None:
    rnd = random.Random(1)
    for _ in range(20):
        scores = [round(rnd.random(), 1) for _ in range(40)]  # rounded: many ties
        labels = [rnd.randint(0, 1) for _ in range(40)]
        assert roc_auc(scores, labels) == pytest.approx(brute_force_auc(scores, labels))
    assert roc_auc([0.1, 0.2], [1, 1]) != roc_auc([0.1, 0.2], [1, 1])  # NaN: one class only


def test_report_figures() -> None:
    figures = report([0.9, 0.8, 0.3, 0.6, 0.1], [1, 1, 1, 0, 0])
    assert figures["confusion"] == [[1, 1], [1, 2]]
    assert figures["accuracy"] == pytest.approx(0.6)
    assert figures["precision"] == pytest.approx(2 / 3) and figures["recall"] == pytest.approx(2 / 3)
    curve = roc_curve([0.9, 0.8, 0.3, 0.6, 0.1], [1, 1, 1, 0, 0])
    assert curve[0] == (0.0, 0.0) and curve[-1] == (1.0, 1.0)


def tiny(kind: str, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = {"kind": kind, "epochs": 3, "batch_size": 8, "embedding_dim": 8, "hidden": 8,
                            "layers": 2, "length": 16, "report_every": 2, "checkpoint_every": 0,
                            "patience": 0}
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("kind", ["lstm", "bow"])
def test_dry_run_reports_and_writes_valid_checkpoint(kind: str, tmp_path: Path) -> None:
    rec = Recorder()
    result = train(TrainConfig(kind=kind, epochs=2, dry_run=True), synthetic(200), rec,
                   checkpoint_path=tmp_path / "state.pt", device=CPU)
    assert result.step == result.total_steps == 4
    metrics = [u["metrics"] for u in rec.updates if u["metrics"]]
    assert any("loss" in m and "accuracy" in m for m in metrics)
    assert any("val_loss" in m and "val_accuracy" in m for m in metrics)
    assert rec.updates[-1]["preview"] is not None  # the ROC curve
    extra = result.checkpoint["extra"]
    assert set(extra["metrics"]) >= {"accuracy", "precision", "recall", "roc_auc"}
    assert len(extra["report"]["confusion"]) == 2 and extra["report"]["roc"][0] == [0.0, 0.0]
    torch.save(result.checkpoint, tmp_path / "model.pt")
    ckpt = load_checkpoint(tmp_path / "model.pt")
    assert validate(get_family("sentiment"), ckpt).ok
    assert ckpt["config"]["kind"] == kind and "great" in ckpt["config"]["words"]


def test_bow_learns_the_synthetic_task() -> None:
    result = train(tiny("bow", epochs=8, lr=0.05), synthetic(300), NullProgress(), device=CPU)
    assert result.checkpoint["extra"]["metrics"]["accuracy"] >= 0.9


@pytest.mark.parametrize("kind", ["lstm", "bow"])
def test_resume_after_cancel_is_exact(kind: str, tmp_path: Path) -> None:
    data = synthetic(120)
    cfg = tiny(kind, patience=1)
    whole = train(cfg, data, NullProgress(), device=CPU)
    state = tmp_path / "state.pt"
    with pytest.raises(Cancelled):
        train(cfg, data, Recorder(cancel_after=17), checkpoint_path=state, device=CPU)
    resumed = train(cfg, data, NullProgress(), checkpoint_path=state, device=CPU)
    assert resumed.resumed_from == 17
    assert same_weights(whole.checkpoint["state_dict"], resumed.checkpoint["state_dict"])
    assert resumed.history == whole.history
    assert resumed.checkpoint["extra"]["metrics"] == whole.checkpoint["extra"]["metrics"]
    assert resumed.notes == whole.notes


def test_early_stopping_keeps_the_best_epoch() -> None:
    # Labels that are coin flips: whatever the model learns is memorised noise, so the validation
    # loss soon stops improving.
    data = synthetic(80)
    rnd = random.Random(7)
    noise = LabelledTexts(data.texts, [rnd.randint(0, 1) for _ in data.labels])
    result = train(tiny("bow", epochs=30, lr=0.5, patience=2), noise, NullProgress(), device=CPU)
    report = result.checkpoint["extra"]["report"]
    val = [h["val_loss"] for h in result.history if "val_loss" in h]
    assert report["stopped_early"]
    assert result.step < result.total_steps and any("stopped early" in n for n in result.notes)
    assert len(val) == report["best_epoch"] + 2
    assert min(val) == val[report["best_epoch"] - 1] == result.checkpoint["extra"]["metrics"]["val_loss"]


def test_resume_refuses_other_settings(tmp_path: Path) -> None:
    state = tmp_path / "state.pt"
    train(tiny("bow", epochs=1), synthetic(60), NullProgress(), checkpoint_path=state, device=CPU)
    with pytest.raises(TrainError, match="other settings"):
        train(tiny("bow", epochs=2, lr=0.5), synthetic(60), NullProgress(), checkpoint_path=state,
              device=CPU)
    with pytest.raises(TrainError, match="other texts"):
        train(tiny("bow", epochs=2), synthetic(60, seed=5), NullProgress(), checkpoint_path=state,
              device=CPU)


def test_refuses_unusable_data() -> None:
    with pytest.raises(TrainError, match="same label"):
        train(tiny("bow"), LabelledTexts(["good"] * 20, [1] * 20), NullProgress())
    with pytest.raises(TrainError, match="at least"):
        train(tiny("bow"), synthetic(5), NullProgress())


def test_command_line_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = synthetic(100)
    csv = tmp_path / "reviews.csv"
    rows = zip(data.texts, data.labels, strict=True)
    csv.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows))
    out = tmp_path / "model.pt"
    args = [str(csv), "-o", str(out), "--kind", "bow", "--epochs", "1", "--dry-run", "--device", "cpu"]
    assert main(args) == 0
    assert load_checkpoint(out)["family"] == "sentiment" and out.with_suffix(".png").exists()
    assert "ROC AUC" in capsys.readouterr().out
    (tmp_path / "bad.csv").write_text("text,label\ngood,7\n")
    assert main([str(tmp_path / "bad.csv"), "-o", str(out), "--dry-run"]) == 1
    assert "label '7' is not binary" in capsys.readouterr().err


def test_a_note_says_when_many_texts_were_cut() -> None:
    from ml.common.progress import NullProgress
    from ml.sentiment.config import TrainConfig
    from ml.sentiment.data import LabelledTexts
    from ml.sentiment.training import train

    texts = [("great " if i % 2 else "awful ") + "word " * 30 for i in range(20)]
    data = LabelledTexts(texts, [i % 2 for i in range(20)])
    result = train(TrainConfig(kind="bow", epochs=1, length=10), data, NullProgress())
    assert any("20 of 20 texts are longer than 10 words" in n for n in result.notes), result.notes
    result = train(TrainConfig(kind="bow", epochs=1, length=40), data, NullProgress())
    assert not any("longer than" in n for n in result.notes)
