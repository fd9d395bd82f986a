"""Hyperparameter sweeps with Optuna: a TPE sampler proposes each trial's settings from the ranges
given, and a median pruner stops a trial whose validation score after an epoch is worse than the
median of the earlier trials at that epoch (it has to beat the pack to be worth finishing).

A trainer takes part through the one Progress protocol: ``TrialProgress`` wraps the progress a
training reports to, and every update that carries the score (``val_loss`` for the studio's
trainers) is one step of the trial. This module is the engine; the studio's sweep jobs are to run
each trial as a job of its own (issue 18).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from PIL import Image

from ml.common.progress import NullProgress, Progress


@dataclass(frozen=True)
class Range:
    """One parameter's range: ``low``-``high`` (``log``: sampled on a log scale; ``integer``: whole
    numbers), or ``choices``."""

    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: optuna.Trial, name: str) -> Any:
        if self.choices:
            return trial.suggest_categorical(name, list(self.choices))
        if self.integer:
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(name, self.low, self.high, log=self.log)


class TrialProgress:
    """A Progress that passes everything on and reports ``score`` to the trial whenever an update
    carries it; raises optuna.TrialPruned (out of the training) when the pruner says stop."""

    def __init__(self, trial: optuna.Trial, inner: Progress | None = None, score: str = "val_loss") -> None:
        self.trial, self.inner, self.score, self.reports = trial, inner or NullProgress(), score, 0

    def update(self, step: int, total: int, message: str = "", preview: Image.Image | None = None,
               metrics: dict[str, float] | None = None) -> None:
        self.inner.update(step, total, message, preview, metrics)
        if metrics and self.score in metrics:
            self.reports += 1
            self.trial.report(metrics[self.score], self.reports)
            if self.trial.should_prune():
                raise optuna.TrialPruned(f"{self.score} {metrics[self.score]:.4f} after {self.reports} "
                                         "reports: worse than the median of the earlier trials")

    def cancelled(self) -> bool:
        return self.inner.cancelled()


Objective = Callable[[dict[str, Any], Progress], float]  # (settings, progress) -> the score to minimise


def run(objective: Objective, space: dict[str, Range], trials: int, *, seed: int = 0,
        storage: str | None = None, name: str | None = None, startup: int = 3) -> optuna.Study:
    """``trials`` trials of ``objective`` over ``space``, minimising its score. ``storage`` (an
    SQLAlchemy URL) keeps the study, so a sweep stopped half way goes on where it was; ``startup``
    trials run whole before the pruner judges any."""
    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(
        direction="minimize", storage=storage, study_name=name, load_if_exists=storage is not None,
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=1))

    def trial_score(trial: optuna.Trial) -> float:
        settings = {key: r.suggest(trial, key) for key, r in space.items()}
        return objective(settings, TrialProgress(trial))

    done = sum(t.state.is_finished() for t in study.trials)
    study.optimize(trial_score, n_trials=max(0, trials - done))
    return study
