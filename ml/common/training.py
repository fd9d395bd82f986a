"""What every trainer in ml/ shares, so the studio's training jobs and the command lines treat all
five trainers (DCGAN, CycleGAN, fast style, sentiment, char-RNN) alike.

A trainer is ``train(cfg, data, progress, *, checkpoint_path=None, resume=True, device=None)`` that
reports through the Progress protocol (metrics every few steps, a preview image now and then),
saves a training checkpoint every so often, at the end and before a Cancelled leaves, continues
from it when asked, and returns a ``TrainResult``. The run itself (checkpoint, resume, messages) is
``TrainingRun`` in ml/common/training_run.py; this module holds the pieces it is built from.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    import torch

# torch, and the checkpoint module that needs it, are imported in the two functions that use them:
# the web process imports this module for the configs' checks without loading torch.


class TrainError(ValueError):
    """Training cannot start or go on; the message is fit to show a user."""


@dataclass
class TrainResult:
    checkpoint: dict[str, Any]  # the trained model as a studio checkpoint of its family, for the catalog
    final: dict[str, float]  # the last report's metrics
    history: list[dict[str, float]]  # every report: step, epoch (fractional) and the metrics
    preview: Image.Image  # what the model makes at the end (a sample grid, a before/after ...)
    step: int  # steps done, over all runs of this training
    total_steps: int
    resumed_from: int  # the step this run started at (0: a fresh start)
    images: int  # training images used
    batch_size: int  # as used (lowered when there were fewer images)
    notes: list[str] = field(default_factory=list)  # adjustments and advice, for the user


def check_counts(cfg: object, *, at_least_one: Sequence[str] = (), zero_or_more: Sequence[str] = ()) -> None:
    """ValueError naming the first of ``cfg``'s settings below its least value: counts that must be
    at least 1 (epochs, widths, the batch size) and those where 0 means none or never (how often to
    sample or save, a loss weight). Written "not >= " so a NaN is refused too."""
    for name in at_least_one:
        if not getattr(cfg, name) >= 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(cfg, name)}")
    for name in zero_or_more:
        if not getattr(cfg, name) >= 0:
            raise ValueError(f"{name} must be 0 or more, got {getattr(cfg, name)}")


def save_state(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write a training checkpoint: plain dicts, tensors and numbers only, so ``load_state`` reads it
    back with weights_only. Written to a temporary file first: a crash mid-write leaves the previous
    checkpoint whole."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    import torch

    torch.save(state, tmp)
    os.replace(tmp, target)


def load_state(path: str | os.PathLike[str], fmt: str, version: int, what: str) -> dict[str, Any]:
    """Read a training checkpoint written by ``save_state`` with ``{"format": fmt, "version": version}``;
    ``what`` names the trainer in messages ("DCGAN")."""
    from ml.common.checkpoint import CheckpointError, load_any

    name = Path(path).name
    try:
        state = load_any(path)
    except CheckpointError as exc:
        raise TrainError(f"cannot resume from {name}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != fmt:
        raise TrainError(f"cannot resume from {name}: not a {what} training checkpoint")
    if state.get("version") != version:
        raise TrainError(f"cannot resume from {name}: training checkpoint version "
                         f"{state.get('version')!r} is not supported")
    return state


def cpu_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's weights as CPU tensors, detached (for a training checkpoint)."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def check_finite(metrics: dict[str, float], step: int) -> None:
    """Stop a run whose losses are no longer numbers (inf or nan): training cannot come back from it."""
    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
    if bad:
        raise TrainError(f"training diverged at step {step}: {', '.join(bad)} is not finite "
                         f"(try a lower learning rate)")


class MetricWindow:
    """Sums of the metrics ``names`` since the last report; its ``state()`` goes in the training
    checkpoint (``{"sums": {name: float}, "count": int}``) and ``from_state`` rebuilds it, so a resumed
    run reports the same averages as an uninterrupted one."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.sums = dict.fromkeys(self.names, 0.0)
        self.count = 0

    @classmethod
    def from_state(cls, names: Sequence[str], state: dict[str, Any]) -> MetricWindow:
        window = cls(names)
        if state["sums"]:
            window.sums = dict(state["sums"])
        window.count = state["count"]
        return window

    def add(self, metrics: dict[str, float]) -> None:
        for k in self.names:
            self.sums[k] += metrics[k]
        self.count += 1

    def mean(self) -> dict[str, float]:
        return {k: self.sums[k] / max(self.count, 1) for k in self.names}

    def state(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "count": self.count}

    def report(self, history: list[dict[str, float]], step: int, epoch: float, *,
               restart: bool) -> dict[str, float]:
        """The averages since the last report, also appended to ``history`` with ``step`` and ``epoch``.
        With ``restart`` (a regular report) the window starts over; a run's last report between the
        regular ones keeps it, so a resumed run's later reports average the same steps as an
        uninterrupted run's."""
        means = self.mean()
        history.append({"step": step, "epoch": epoch, **means})
        if restart:
            self.sums, self.count = dict.fromkeys(self.names, 0.0), 0
        return means


class EarlyStopping:
    """Keeps the weights of the epoch with the lowest validation loss, and stops the run after
    ``patience`` epochs in a row without a lower one (0: never stops, only keeps the best). Its
    ``state()`` goes in the training checkpoint (best_loss, best_state, best_epoch, bad_epochs, stopped,
    stop_note) and ``from_state`` reads it back, so a resumed run keeps the same best and count."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_loss = math.inf
        self.best_state: dict[str, torch.Tensor] | None = None  # CPU copies of the best weights
        self.best_epoch = 0  # 1-based; 0: none yet
        self.bad_epochs = 0  # epochs since the best one
        self.stopped = False
        self.note = ""  # why it stopped, for the run's notes (kept so a resumed run still says it)

    @classmethod
    def from_state(cls, patience: int, state: dict[str, Any]) -> EarlyStopping:
        stopping = cls(patience)
        stopping.best_loss, stopping.best_state = state["best_loss"], state["best_state"]
        stopping.best_epoch, stopping.bad_epochs = state["best_epoch"], state["bad_epochs"]
        stopping.stopped, stopping.note = state["stopped"], state["stop_note"]
        return stopping

    def state(self) -> dict[str, Any]:
        return {"best_loss": self.best_loss, "best_state": self.best_state, "best_epoch": self.best_epoch,
                "bad_epochs": self.bad_epochs, "stopped": self.stopped, "stop_note": self.note}

    def end_of_epoch(self, model: torch.nn.Module, loss: float, epoch: int) -> None:
        """After ``epoch`` (1-based) measured ``loss`` on the validation set: keep the weights if it is
        the best so far, else count the epoch and stop once ``patience`` epochs went by."""
        if loss < self.best_loss:
            self.best_loss, self.best_epoch, self.bad_epochs = loss, epoch, 0
            self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            return
        self.bad_epochs += 1
        if self.patience and self.bad_epochs >= self.patience:
            self.stopped = True
            self.note = (f"stopped early after epoch {epoch}: no better validation loss for "
                         f"{self.patience} epochs; kept epoch {self.best_epoch}")

    def restore_best(self, model: torch.nn.Module) -> None:
        """Put the best epoch's weights back (no epoch measured yet: the model stays as it is)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
