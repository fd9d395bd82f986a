"""What every trainer in ml/ shares, so the studio's training jobs and the command lines treat the
DCGAN, CycleGAN and fast-style trainers alike.

A trainer is ``train(cfg, data, progress, *, checkpoint_path=None, resume=True, device=None)`` that
reports through the Progress protocol (metrics every few steps, a preview image now and then),
saves a training checkpoint (``save_state``) every so often, at the end and before a Cancelled
leaves, continues from it when asked, and returns a ``TrainResult``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ml.common.checkpoint import CheckpointError, load_any
from ml.common.progress import Cancelled, Progress, check_cancelled


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


def save_state(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write a training checkpoint: plain dicts, tensors and numbers only, so ``load_state`` reads it
    back with weights_only. Written to a temporary file first: a crash mid-write leaves the previous
    checkpoint whole."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, target)


def load_state(path: str | os.PathLike[str], fmt: str, version: int, what: str) -> dict[str, Any]:
    """Read a training checkpoint written by ``save_state`` with ``{"format": fmt, "version": version}``;
    ``what`` names the trainer in messages ("DCGAN")."""
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


def check_same_settings(saved: dict[str, Any], now: dict[str, Any], keys: Sequence[str]) -> None:
    """Refuse to resume when a setting the checkpoint depends on has changed."""
    changed = [f"{k} {saved.get(k)!r} -> {now[k]!r}" for k in keys if saved.get(k) != now[k]]
    if changed:
        raise TrainError(f"cannot resume: the checkpoint was trained with other settings "
                         f"({'; '.join(changed)})")


def check_not_past(step: int, total_steps: int, length: str = "", more: str = "epochs") -> None:
    """Refuse to resume a checkpoint that is further along than this run would go; ``length`` says
    how the run's steps come about (e.g. " (3 epochs)"), ``more`` what to ask for."""
    if step > total_steps:
        raise TrainError(f"cannot resume: the checkpoint is at step {step}, past this run's "
                         f"{total_steps} steps{length}; ask for more {more}")


def cpu_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's weights as CPU tensors, detached (for a training checkpoint)."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def checkpoint_or_cancel(progress: Progress, save: Callable[[], None], *, step: int, resumed_from: int,
                         every: int) -> None:
    """The top of a training step, where everything is consistent with ``step``: ``save()`` a training
    checkpoint when one is due (every ``every`` steps, 0: never; not again at the step the run
    resumed from), and raise Cancelled when the job was cancelled, after a ``save()`` so that it can
    resume from exactly here."""
    if every and step > resumed_from and step % every == 0:
        save()
    try:
        check_cancelled(progress)
    except Cancelled:
        save()
        raise


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
