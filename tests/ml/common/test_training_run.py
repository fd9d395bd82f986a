"""The training skeleton (ml/common/training_run.py) on a toy trainer: exact resume with the trainer's
own fields, the start and "already trained" messages, the resume refusals; and EarlyStopping."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

from ml.common.progress import Cancelled, NullProgress, Progress
from ml.common.training import EarlyStopping, TrainError, TrainResult
from ml.common.training_run import TrainingRun, TrainingSpec
from tests.ml.conftest import Recorder

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/ml/conftest.py

SPEC = TrainingSpec(format="studio-toy-training", version=1, family="toy", what="toy", metrics=("loss",),
                    same_on_resume=("lr", "seed"))


@dataclass
class ToyConfig:
    """A trainer's settings, as few as a TrainingRun needs: the run's length, what a resume must keep
    the same (lr, seed), and how often it saves."""

    steps: int = 6
    lr: float = 0.1
    seed: int = 0
    checkpoint_every: int = 0


@dataclass(frozen=True)
class ToyPlan:
    total_steps: int
    fingerprint: str


def toy_train(cfg: ToyConfig, progress: Progress, path: Path, *, data: str = "abc",
              spec: TrainingSpec = SPEC) -> TrainResult:
    """A linear net on random batches from one seeded generator; ``drawn`` is a field of its own."""
    rng = torch.Generator().manual_seed(cfg.seed)
    net = nn.Linear(2, 1)
    nn.init.normal_(net.weight, generator=rng)
    nn.init.zeros_(net.bias)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr)
    plan = ToyPlan(cfg.steps, data)
    drawn: list[float] = []
    run = TrainingRun(spec, cfg, plan, progress, path, True, parts={"net": net, "opt": opt, "rng": rng},
                      fields=lambda: {"drawn": drawn})
    state = run.resume(lambda old: None if old["fingerprint"] == data else "on other data")
    if state is not None:
        drawn = list(state["drawn"])
    run.start("a toy")
    while run.step < run.total_steps:
        run.checkpoint_or_cancel()
        x = torch.randn(4, 2, generator=rng)
        loss = net(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        drawn.append(float(x[0, 0]))
        run.add({"loss": loss.item()})
        run.report_and_preview(f"step {run.step}", float(run.step), 2, 0, lambda: Image.new("RGB", (1, 1)))
    final = run.finish()
    checkpoint = {"weight": net.weight.detach().clone(), "drawn": drawn}
    return run.result(checkpoint, final, Image.new("RGB", (1, 1)), images=0, batch_size=4, notes=[])


def test_a_cancelled_run_resumes_as_one_run(tmp_path: Path) -> None:
    straight = toy_train(ToyConfig(), NullProgress(), tmp_path / "straight.pt")
    with pytest.raises(Cancelled):
        toy_train(ToyConfig(), Recorder(cancel_after=3), tmp_path / "run.pt")
    progress = Recorder()
    resumed = toy_train(ToyConfig(), progress, tmp_path / "run.pt")
    assert resumed.resumed_from == 3 and resumed.step == 6
    assert progress.updates[0]["message"] == "resuming at step 3: a toy"
    assert torch.equal(straight.checkpoint["weight"], resumed.checkpoint["weight"])
    assert straight.checkpoint["drawn"] == resumed.checkpoint["drawn"]  # the trainer's own field
    assert straight.history == resumed.history and straight.final == resumed.final


def test_a_finished_run_says_already_trained(tmp_path: Path) -> None:
    progress = Recorder()
    first = toy_train(ToyConfig(), progress, tmp_path / "run.pt")
    assert progress.updates[0]["message"] == "starting: a toy"
    assert [u["step"] for u in progress.updates[1:]] == [2, 4, 6]
    progress = Recorder()
    again = toy_train(ToyConfig(), progress, tmp_path / "run.pt")
    assert [(u["message"], u["metrics"]) for u in progress.updates] == [("already trained", first.final)]
    assert again.step == again.resumed_from == 6


def test_a_resume_is_refused_with_a_reason(tmp_path: Path) -> None:
    toy_train(ToyConfig(), NullProgress(), tmp_path / "run.pt")
    with pytest.raises(TrainError, match=r"^cannot resume: the checkpoint was trained with other settings "
                                         r"\(lr 0.1 -> 0.2\)$"):
        toy_train(ToyConfig(lr=0.2), NullProgress(), tmp_path / "run.pt")
    with pytest.raises(TrainError, match="^cannot resume: the checkpoint was trained on other data$"):
        toy_train(ToyConfig(), NullProgress(), tmp_path / "run.pt", data="xyz")
    with pytest.raises(TrainError, match="at step 6, past this run's 4 steps; ask for more epochs$"):
        toy_train(ToyConfig(steps=4), NullProgress(), tmp_path / "run.pt")
    newer = dataclasses.replace(SPEC, version=2)  # a changed layout: older files are refused clearly
    with pytest.raises(TrainError, match="training checkpoint version 1 is not supported"):
        toy_train(ToyConfig(), NullProgress(), tmp_path / "run.pt", spec=newer)


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience() -> None:
    net = nn.Linear(1, 1)
    stopping = EarlyStopping(patience=2)
    for epoch, loss in enumerate([0.9, 0.5, 0.6], start=1):
        with torch.no_grad():
            net.weight.fill_(epoch)
        stopping.end_of_epoch(net, loss, epoch)
    assert (stopping.best_epoch, stopping.bad_epochs, stopping.stopped) == (2, 1, False)
    again = EarlyStopping.from_state(2, stopping.state())  # as a resumed run reads it back
    again.end_of_epoch(net, 0.7, 4)
    assert again.stopped and again.note == ("stopped early after epoch 4: no better validation loss for "
                                            "2 epochs; kept epoch 2")
    again.restore_best(net)
    assert float(net.weight.detach()) == 2.0


def test_early_stopping_without_patience_only_keeps_the_best() -> None:
    stopping = EarlyStopping(patience=0)
    for epoch, loss in enumerate([0.5, 0.6, 0.7, 0.8], start=1):
        stopping.end_of_epoch(nn.Linear(1, 1), loss, epoch)
    assert not stopping.stopped and stopping.best_epoch == 1 and stopping.bad_epochs == 3
