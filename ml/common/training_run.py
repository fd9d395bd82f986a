"""The skeleton every trainer in ml/ runs on. ``TrainingRun`` keeps what all of them keep (the step,
the report history, the metric window and the trainer's stateful parts: modules, optimizers,
schedulers, random generators), writes and reads the training checkpoint, checks a resume, and
says what every trainer says ("starting", "resuming at step N", "already trained").

A trainer keeps only what is its own: its models and their step, its plan and data, its previews,
the extra fields of its checkpoint and its result. In outline (ml/dcgan/training.py in full):

    run = TrainingRun(SPEC, cfg, plan, progress, checkpoint_path, resume,
                      parts={"net": net, "opt": opt, "rng": rng},  # saved and restored by name
                      fields=lambda: {"perm": perm})  # the trainer's own fields, read at each save
    state = run.resume(lambda old: _other_images(old, plan))  # None: a fresh start
    if state is not None:
        perm = state["perm"]
    run.start(f"{plan.images} images")  # "starting: ..." or "resuming at step N: ..."
    while run.step < run.total_steps:
        run.checkpoint_or_cancel()  # the top of a step: a periodic save, or a save and Cancelled
        run.add(train_step(...))  # step + 1, a diverged run stopped, the metrics averaged
        preview = run.report_and_preview(f"step {run.step}", epoch, plan.report_every, ...)
    final = run.finish(preview)  # the final save, or "already trained"
    return run.result(checkpoint, final, preview, images=plan.images, batch_size=..., notes=notes)

Resumes are exact because a checkpoint is only written at the top of a step, where every part agrees
with ``step``, and holds everything the next step reads (the trainers keep every random number in
a part or a field).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from ml.common.progress import Cancelled, Progress, check_cancelled
from ml.common.training import (
    MetricWindow,
    TrainError,
    TrainResult,
    check_finite,
    cpu_state_dict,
    load_state,
    save_state,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance  # what dataclasses.asdict takes

# What a training checkpoint holds by name, besides the run's own fields.
Part = torch.nn.Module | torch.optim.Optimizer | torch.optim.lr_scheduler.LRScheduler | torch.Generator


@dataclass(frozen=True)
class TrainingSpec:
    """One trainer's training checkpoints: what they are called and what a resume must keep."""

    format: str  # "studio-dcgan-training"
    version: int  # bump when the layout changes: an older file is then refused with a clear message
    family: str  # "dcgan"
    what: str  # the trainer in messages: "not a DCGAN training checkpoint"
    metrics: tuple[str, ...]  # what each step gives, averaged between reports
    same_on_resume: tuple[str, ...]  # TrainConfig fields that must not change between runs


class TrainingRun:
    """One run of a trainer: see the module docstring. ``cfg`` and ``plan`` (dataclasses, the plan with
    ``total_steps``) go into every checkpoint as they are at the start; ``parts`` are saved and
    restored by name (a module's weights as CPU tensors); ``fields()`` gives the trainer's other
    checkpoint fields when one is written (the epoch's shuffle, a pool, ...; none by default)."""

    def __init__(self, spec: TrainingSpec, cfg: DataclassInstance, plan: DataclassInstance,
                 progress: Progress, path: str | os.PathLike[str] | None, resume: bool, *,
                 parts: dict[str, Part], fields: Callable[[], dict[str, Any]] = dict) -> None:
        self.spec = spec
        self.config, self.plan = asdict(cfg), asdict(plan)
        self.total_steps: int = self.plan["total_steps"]
        self.checkpoint_every: int = self.config["checkpoint_every"]  # steps; 0: at the end and on cancel
        self.progress = progress
        self.path = Path(path) if path is not None else None
        self.resume_asked = resume
        self.parts = parts
        self.fields = fields
        self.step = 0  # steps done, over all runs of this training
        self.resumed_from = 0  # the step this run started at
        self.history: list[dict[str, float]] = []  # every report: step, epoch and the metrics
        self.window = MetricWindow(spec.metrics)

    # --- the training checkpoint ------------------------------------------------------------------

    def save(self) -> None:
        """Write the training checkpoint, when the run has a path: plain dicts, tensors and numbers,
        so it reads back with weights_only; written whole or not at all (``save_state``)."""
        if self.path is None:
            return
        state = {"format": self.spec.format, "version": self.spec.version, "family": self.spec.family,
                 "config": self.config, "plan": self.plan, "step": self.step, "history": self.history,
                 "window": self.window.state()}
        for name, part in self.parts.items():
            state[name] = _state_of(part)
        state.update(self.fields())
        save_state(self.path, state)

    def resume(self, other_data: Callable[[dict[str, Any]], str | None], length: str = "",
               more: str = "epochs") -> dict[str, Any] | None:
        """Continue from the training checkpoint, when asked to and there is one: check it, restore the
        step, history, metric window and every part, and return it for the trainer's own fields.
        None: a fresh start.

        Refused with a TrainError: another trainer's or version's file, other settings (the spec's
        ``same_on_resume``), other data (``other_data(the checkpoint's plan)`` says how they differ,
        e.g. "on other images (12 then, 10 now)"; None when they do not), or a checkpoint past this
        run's end (``length`` says how its steps come about, " (3 epochs)"; ``more`` what to ask for).
        """
        if self.path is None or not self.resume_asked or not self.path.exists():
            return None
        state = load_state(self.path, self.spec.format, self.spec.version, self.spec.what)
        changed = [f"{k} {state['config'].get(k)!r} -> {self.config[k]!r}" for k in self.spec.same_on_resume
                   if state["config"].get(k) != self.config[k]]
        if changed:
            raise TrainError(f"cannot resume: the checkpoint was trained with other settings "
                             f"({'; '.join(changed)})")
        differs = other_data(state["plan"])
        if differs:
            raise TrainError(f"cannot resume: the checkpoint was trained {differs}")
        if state["step"] > self.total_steps:
            raise TrainError(f"cannot resume: the checkpoint is at step {state['step']}, past this run's "
                             f"{self.total_steps} steps{length}; ask for more {more}")
        for name, part in self.parts.items():
            _restore(part, state[name])
        self.step = self.resumed_from = state["step"]
        self.history = list(state["history"])
        self.window = MetricWindow.from_state(self.spec.metrics, state["window"])
        return state

    # --- the loop ---------------------------------------------------------------------------------

    def update(self, message: str, *, preview: Image.Image | None = None,
               metrics: dict[str, float] | None = None) -> None:
        """Tell the listener where the run is (at ``step`` of ``total_steps``)."""
        self.progress.update(self.step, self.total_steps, message, preview=preview, metrics=metrics)

    def start(self, detail: str) -> None:
        """Listeners learn the total (and a resume's start) before the first step ends; a run with
        nothing left to do says nothing here (``finish`` says "already trained")."""
        if self.step < self.total_steps:
            where = f"resuming at step {self.step}" if self.step else "starting"
            self.update(f"{where}: {detail}")

    def checkpoint_or_cancel(self) -> None:
        """The top of a step, where every part is consistent with ``step``: save a checkpoint when one
        is due (every ``checkpoint_every`` steps; not again at the step the run resumed from), and
        raise Cancelled when the job was cancelled, after a save so that it resumes from exactly here."""
        if self.due(self.checkpoint_every) and self.step > self.resumed_from:
            self.save()
        try:
            check_cancelled(self.progress)
        except Cancelled:
            self.save()
            raise

    def add(self, metrics: dict[str, float]) -> None:
        """A step is done: count it, stop a run whose metrics are no longer numbers, and add them to
        the report window."""
        self.step += 1
        check_finite(metrics, self.step)
        self.window.add(metrics)

    def due(self, every: int) -> bool:
        """Whether the step just done is one of every ``every`` steps (0: never)."""
        return bool(every) and self.step % every == 0

    def report(self, epoch: float, report_every: int) -> dict[str, float]:
        """The metrics averaged since the last report, added to the history. A report between the
        regular ones (a run's last step, an epoch's end) keeps the window, so a resumed run averages
        the same steps as an uninterrupted one."""
        return self.window.report(self.history, self.step, epoch, restart=self.step % report_every == 0)

    def report_and_preview(self, message: str, epoch: float, report_every: int, sample_every: int,
                           make_preview: Callable[[], Image.Image]) -> Image.Image | None:
        """The image trainers' cadence: metrics every ``report_every`` steps, a preview every
        ``sample_every`` (0: none), both at the last step, in one update. Returns the preview made."""
        last = self.step == self.total_steps
        preview = make_preview() if last or self.due(sample_every) else None
        reported = self.report(epoch, report_every) if last or self.due(report_every) else None
        if reported is not None or preview is not None:
            self.update(message, preview=preview, metrics=reported)
        return preview

    def finish(self, preview: Image.Image | None = None) -> dict[str, float]:
        """After the loop: the final save when this run trained; a run that had nothing left to do
        says "already trained" (with ``preview``). Returns the last report's metrics."""
        if self.step != self.resumed_from:
            self.save()
        last = self.history[-1] if self.history else {}
        final = {k: v for k, v in last.items() if k not in ("step", "epoch")}
        if self.step == self.resumed_from:
            self.update("already trained", preview=preview, metrics=final)
        return final

    def result(self, checkpoint: dict[str, Any], final: dict[str, float], preview: Image.Image, *,
               images: int, batch_size: int, notes: list[str]) -> TrainResult:
        """The run's TrainResult: the trainer's checkpoint, metrics and preview with the run's steps."""
        return TrainResult(checkpoint=checkpoint, final=final, history=self.history, preview=preview,
                           step=self.step, total_steps=self.total_steps, resumed_from=self.resumed_from,
                           images=images, batch_size=batch_size, notes=notes)


def _state_of(part: Part) -> Any:
    if isinstance(part, torch.nn.Module):
        return cpu_state_dict(part)
    if isinstance(part, torch.Generator):
        return part.get_state()
    return part.state_dict()


def _restore(part: Part, state: Any) -> None:
    if isinstance(part, torch.Generator):
        part.set_state(state)
    else:
        part.load_state_dict(state)
