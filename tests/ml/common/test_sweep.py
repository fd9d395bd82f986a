"""Sweeps (ml/common/sweep.py): eight trials of the bag-of-words sentiment trainer on Pang & Lee's
reviews, some pruned after an epoch, whose best beats the default settings on the validation texts;
a study kept in SQL goes on where it stopped; and the trial progress on made-up scores."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna

from ml.common import sweep
from ml.common.progress import NullProgress, Progress
from ml.sentiment.config import TrainConfig
from ml.sentiment.data import read_csv
from ml.sentiment.starter import HELD_OUT_EVERY, WHOLE_REVIEW, find_pang_lee
from ml.sentiment.training import train
from tests.conftest import unavailable

SPACE = {"lr": sweep.Range(1e-4, 3e-2, log=True), "epochs": sweep.Range(2, 12, integer=True),
         "max_words": sweep.Range(choices=(2000, 5000, 20000)), "patience": sweep.Range(choices=(2, 4))}


def test_eight_trials_of_the_bag_of_words_prune_some_and_beat_the_defaults() -> None:
    path = find_pang_lee()
    if path is None:
        unavailable("no Pang & Lee polarity data: bash scripts/text_data.sh")
    data = read_csv(path)
    base = TrainConfig(kind="bow", length=WHOLE_REVIEW, test_every=HELD_OUT_EVERY)  # the defaults otherwise

    def objective(settings: dict[str, Any], progress: Progress) -> float:
        checkpoint = train(replace(base, **settings), data, progress).checkpoint
        return float(checkpoint["extra"]["metrics"]["val_loss"])  # the best epoch's, on validation texts

    default = objective({}, NullProgress())
    study = sweep.run(objective, SPACE, 8)
    states = [t.state for t in study.trials]
    assert len(states) == 8 and optuna.trial.TrialState.PRUNED in states, states
    assert study.best_value < default, (study.best_value, default)
    for t in study.trials:
        print(t.number, t.state.name, t.value, t.params)
    print(f"default settings: validation loss {default:.4f}; best trial {study.best_value:.4f}",
          study.best_params)


def test_a_stored_study_goes_on_where_it_stopped(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'sweep.sqlite3'}"
    seen: list[float] = []

    def objective(settings: dict[str, Any], progress: Progress) -> float:
        seen.append(settings["x"])
        return (settings["x"] - 2) ** 2

    space = {"x": sweep.Range(-10, 10)}
    assert len(sweep.run(objective, space, 3, storage=storage, name="s").trials) == 3
    study = sweep.run(objective, space, 8, storage=storage, name="s")  # after a restart: 5 more
    assert len(study.trials) == 8 and len(seen) == 8
    assert abs(study.best_params["x"] - 2) < 4


def test_the_trial_progress_reports_each_score_and_prunes_a_bad_trial() -> None:
    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))

    def scores(values: list[float]) -> None:
        trial = study.ask()
        progress = sweep.TrialProgress(trial)
        try:
            for v in values:
                progress.update(1, 1, "epoch", metrics={"val_loss": v, "val_accuracy": 0.5})
                progress.update(1, 1, "batch", metrics={"loss": v})  # no score: not a step
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return
        study.tell(trial, values[-1])

    scores([0.5, 0.4, 0.3])
    scores([0.9, 0.9, 0.9])
    first, second = study.trials
    assert first.intermediate_values == {1: 0.5, 2: 0.4, 3: 0.3}
    assert second.state == optuna.trial.TrialState.PRUNED and second.intermediate_values == {1: 0.9}
