"""Predicting with a trained sentiment model: occlusion finds the decisive word, and the batched
predictions equal one-at-a-time ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ml.common.checkpoint import checkpoint_dict
from ml.common.progress import Cancelled
from ml.sentiment.config import SentimentConfig
from ml.sentiment.infer import load, predict, predict_many
from ml.sentiment.model import build_model
from ml.sentiment.predict import main
from tests.ml.conftest import Recorder
from tests.ml.sentiment.conftest import WORDS, bow_model

pytestmark = pytest.mark.usefixtures("one_thread")

def test_occlusion_ranks_the_decisive_word_first() -> None:
    sm = bow_model({"superb": 4.0, "awful": -4.0, "plot": 0.3, "film": -0.2})
    good = predict(sm, "The plot was superb, the film!")
    assert good.label == "positive" and good.probability > 0.9
    assert good.words[0][0] == "superb" and good.words[0][1] > 0.3
    assert good.words[-1][0] == "film" and good.words[-1][1] < 0  # it pushed the other way
    bad = predict(sm, "awful plot", top=1)
    assert bad.label == "negative" and bad.words == [("awful", pytest.approx(bad.words[0][1]))]
    assert bad.words[0][1] > 0.4


def test_occlusion_with_an_lstm_runs() -> None:
    torch.manual_seed(0)
    cfg = SentimentConfig(words=WORDS, kind="lstm", embedding_dim=4, hidden=4, layers=1, length=10)
    ckpt = checkpoint_dict(family="sentiment", config=cfg, state_dict=build_model(cfg).state_dict())
    result = predict(load(ckpt), "the film was superb superb")
    assert 0 <= result.probability <= 1 and [w for w, _ in result.words] != []
    assert sorted(w for w, _ in result.words) == ["film", "superb", "the", "was"]


@pytest.mark.parametrize("kind", ["lstm", "bow"])
def test_batch_predict_equals_one_at_a_time(kind: str) -> None:
    torch.manual_seed(1)
    cfg = SentimentConfig(words=WORDS, kind=kind, embedding_dim=4, hidden=4, layers=2, length=6)
    ckpt = checkpoint_dict(family="sentiment", config=cfg, state_dict=build_model(cfg).state_dict())
    sm = load(ckpt)
    texts = ["the film", "superb plot was the film superb and more", "", "awful", "unknown words only",
             "the the the"]
    rec = Recorder()
    many = predict_many(sm, texts, rec, chunk=4)
    single = [predict(sm, t).probability for t in texts]
    assert many == pytest.approx(single, abs=1e-6)
    assert [u["step"] for u in rec.updates] == [4, 6]
    with pytest.raises(Cancelled):
        predict_many(sm, texts, Recorder(cancel_after=1), chunk=2)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sm = bow_model({"superb": 4.0, "awful": -4.0})
    path = tmp_path / "model.pt"
    torch.save(checkpoint_dict(family="sentiment", config=sm.config, state_dict=sm.model.state_dict()), path)
    assert main([str(path), "superb film", "awful"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("positive (0.98") and "superb +" in out[0] and out[1].startswith("negative")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    assert main([str(tmp_path / "junk.pt"), "x"]) == 1
    assert capsys.readouterr().err == "error: not a checkpoint: not a PyTorch file\n"
