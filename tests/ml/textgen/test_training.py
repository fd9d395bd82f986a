"""Char-RNN training: the dry run gives a valid "textgen" checkpoint and reports its metrics, resume
is exact, cancel saves first, and the command line runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from ml.common.checkpoint import load_checkpoint
from ml.common.family import validate
from ml.common.progress import Cancelled, NullProgress
from ml.common.training import TrainError
from ml.families import get_family
from ml.textgen import training
from ml.textgen.config import TrainConfig
from ml.textgen.train import main
from ml.textgen.training import train, validation_loss
from tests.ml.conftest import Recorder, same_weights

# A small text with structure to learn: a few sentences, repeated with variations.
TEXT = "".join(f"It is a truth universally acknowledged, number {i}, that a single man wants a wife.\n"
               for i in range(60))


def _cfg(**kw: object) -> TrainConfig:
    base: dict[str, object] = dict(n_hidden=24, n_layers=2, batch_size=4, seq_length=16, epochs=2,
                                   report_every=2, sample_length=30, sample_prime="It ", checkpoint_every=0)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    pass


def test_dry_run_checkpoint_and_metrics() -> None:
    rec = Recorder()
    result = train(_cfg(dry_run=True, epochs=2), TEXT, rec, device="cpu")
    assert validate(get_family("textgen"), result.checkpoint).ok
    assert result.checkpoint["family"] == "textgen"
    assert result.step == result.total_steps == 4
    extra = result.checkpoint["extra"]
    assert extra["val_loss"] == result.final["val_loss"] and 0 < extra["val_loss"] < 10
    assert len(extra["samples"]) == 2 and all(s.startswith("It ") for s in extra["samples"])
    assert any(n.startswith("sample after the last epoch") for n in result.notes)
    epoch_ends = [u for u in rec.updates if u["metrics"] and "val_loss" in u["metrics"]]
    assert [u["step"] for u in epoch_ends] == [2, 4]
    assert "validation loss" in epoch_ends[0]["message"]
    assert [h["step"] for h in result.history] == [1, 2, 3, 4]  # dry run: a report every step
    assert result.preview.size[0] > 0
    # The caller's random state is untouched.
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    train(_cfg(dry_run=True, epochs=1), TEXT, NullProgress(), device="cpu")
    assert torch.equal(torch.rand(1), before)


def test_learns_something() -> None:
    result = train(_cfg(epochs=3, report_every=50), TEXT, NullProgress(), device="cpu")
    vals = [h["val_loss"] for h in result.history if "val_loss" in h]
    assert len(vals) == 3 and vals[-1] < vals[0] < 4.0


def test_resume_is_exact(tmp_path: Path) -> None:
    cfg = _cfg(epochs=2, checkpoint_every=0)
    full = train(cfg, TEXT, NullProgress(), device="cpu")
    state = tmp_path / "s.pt"
    # Stop mid-epoch (the hidden state is carried across the stop), then resume.
    steps_per_epoch = full.total_steps // 2
    with pytest.raises(Cancelled):
        train(cfg, TEXT, Recorder(cancel_after=steps_per_epoch // 2 + 1), checkpoint_path=state,
              device="cpu")
    assert state.exists()
    resumed = train(cfg, TEXT, NullProgress(), checkpoint_path=state, device="cpu")
    assert resumed.resumed_from == steps_per_epoch // 2 + 1
    assert same_weights(full.checkpoint["state_dict"], resumed.checkpoint["state_dict"])
    assert resumed.history == full.history
    assert resumed.checkpoint["extra"]["samples"] == full.checkpoint["extra"]["samples"]
    # More epochs continue it; other settings are refused.
    again = train(cfg, TEXT, Recorder(), checkpoint_path=state, device="cpu")
    assert again.step == again.resumed_from == full.total_steps
    with pytest.raises(TrainError, match="other settings"):
        train(_cfg(epochs=2, lr=1e-2), TEXT, NullProgress(), checkpoint_path=state, device="cpu")
    with pytest.raises(TrainError, match="another text"):
        train(cfg, TEXT.replace("wife", "life"), NullProgress(), checkpoint_path=state, device="cpu")


def test_short_text_lowers_the_batch() -> None:
    result = train(_cfg(batch_size=200, epochs=1), TEXT[:1500], NullProgress(), device="cpu")
    assert result.batch_size < 200 and any("batch size 200 lowered" in n for n in result.notes)
    with pytest.raises(TrainError, match=r"too short: [\d,]+ training characters, at least 5,001 needed"):
        train(_cfg(seq_length=5000), TEXT, NullProgress(), device="cpu")


def test_the_learning_rate_falls_linearly_to_lr_final(monkeypatch: pytest.MonkeyPatch) -> None:
    rates: list[float] = []
    step = training.train_step

    def spy(model: Any, opt: Any, *args: Any) -> Any:
        rates.append(opt.param_groups[0]["lr"])
        return step(model, opt, *args)

    monkeypatch.setattr(training, "train_step", spy)
    result = train(_cfg(epochs=2, lr=0.01, lr_final=0.2), TEXT[:1500], NullProgress(), device="cpu")
    assert len(rates) == result.step and rates[0] == 0.01
    assert rates == pytest.approx([0.01 * (1 - 0.8 * i / result.step) for i in range(result.step)])
    with pytest.raises(ValueError, match="lr_final must be in"):
        _cfg(lr_final=1.5)


@pytest.mark.parametrize("text", [" \n\t" * 2000, "\n" * 5000 + "Emma." * 99])
def test_whitespace_does_not_train(text: str) -> None:
    # train() takes text from callers other than read_text (the starter, tests): it refuses too.
    writing = sum(not c.isspace() for c in text)
    message = (f"the text has too little writing to train on: {writing} characters that are not spaces "
               f"or line breaks, at least 500 needed")
    with pytest.raises(TrainError, match=f"^{message}$"):
        train(_cfg(epochs=1), text, NullProgress(), device="cpu")


def test_validation_loss_uniform_model() -> None:
    # A net whose output layer is zero predicts every character with probability 1/V: ln V nats.
    result = train(_cfg(dry_run=True, epochs=1), TEXT, NullProgress(), device="cpu")
    from ml.textgen.formats import encode
    from ml.textgen.infer import load

    model = load(result.checkpoint)
    torch.nn.init.zeros_(model.fc.weight)  # type: ignore[arg-type]
    torch.nn.init.zeros_(model.fc.bias)  # type: ignore[arg-type]
    tokens = result.checkpoint["config"]["tokens"]
    loss = validation_loss(model, encode(TEXT[:500], tokens), 4, 16)  # type: ignore[arg-type]
    assert loss == pytest.approx(torch.log(torch.tensor(float(len(tokens)))).item(), rel=1e-5)


def test_cli_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "t.txt"
    text.write_text(TEXT)
    out = tmp_path / "m.pt"
    assert main([str(text), "-o", str(out), "--dry-run", "--epochs", "1", "--device", "cpu"]) == 0
    assert validate(get_family("textgen"), load_checkpoint(out)).ok
    assert (tmp_path / "m.train.pt").exists()
    printed = capsys.readouterr().out
    assert "validation loss" in printed and "nats per character" in printed
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff" * 2000)
    assert main([str(bad), "-o", str(out), "--dry-run"]) == 1
    assert "not UTF-8" in capsys.readouterr().err
