"""Train a char-RNN on a text: the Udacity char-rnn recipe (deep-learning-v2-pytorch,
recurrent-neural-networks/char-rnn), streamed through the studio's Progress protocol.

The command line is ml/textgen/train.py:
    python -m ml.textgen.train TEXT.txt|--austen -o out.pt --epochs 20 [--resume] [--dry-run]

Recipe: the text (its last ``val_fraction`` held out) is cut into ``batch_size`` contiguous rows, each
read ``seq_length`` characters per step, so row i of a batch continues row i of the one before and
the LSTM's hidden state is carried from batch to batch within an epoch (detached: gradients stop at
the batch's start) and reset at each epoch's start. Cross-entropy on the next character, Adam
lr 1e-3, gradient norm clipped to 5, dropout 0.5. After each epoch: the validation loss (nats per
character, the same unit as the training loss) and a sample text, primed with ``sample_prime``.

Resuming is exact on the CPU: the training checkpoint holds the weights, the optimizer, the hidden
state mid-epoch, the random state and the partly-averaged report window. The only randomness is the
weight init and dropout, both from torch's global generator, seeded with ``seed`` inside
``torch.random.fork_rng`` so the caller's random state is left as it was; its state is saved with the
rest. Samples use generate()'s own seeded generator, so they never change what training does.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from ml.common.checkpoint import checkpoint_dict
from ml.common.device import pick_device
from ml.common.progress import Progress
from ml.common.training import (
    MetricWindow,
    TrainError,
    TrainResult,
    check_finite,
    check_not_past,
    check_same_settings,
    checkpoint_or_cancel,
    cpu_state_dict,
    load_state,
    save_state,
)
from ml.textgen.config import DRY_RUN_CHARS, CharRNNConfig, TrainConfig
from ml.textgen.data import Plan, as_rows, plan_run, split
from ml.textgen.formats import encode, one_hot
from ml.textgen.infer import generate
from ml.textgen.model import CharRNN, Hidden

TRAINING_FORMAT = "studio-textgen-training"
TRAINING_VERSION = 1
METRICS = ("loss",)  # training cross-entropy, nats per character


def train(cfg: TrainConfig, text: str, progress: Progress, *,
          checkpoint_path: str | os.PathLike[str] | None = None, resume: bool = True,
          device: torch.device | str | None = None) -> TrainResult:
    """Train a char-RNN on ``text`` (read with ml.textgen.data.read_text) and return it as a studio
    "textgen" checkpoint whose extra holds the validation loss and the samples.

    ``checkpoint_path``: the training checkpoint (every ``cfg.checkpoint_every`` steps, at the end and
    before a Cancelled leaves). With ``resume`` and an existing file there, training continues from
    it; same text and settings required (``epochs`` may grow). Raises TrainError for unusable input.
    """
    dev = device if isinstance(device, torch.device) else pick_device(device)
    notes: list[str] = []
    if cfg.dry_run:
        text = text[:DRY_RUN_CHARS]
    plan = plan_run(cfg, text, notes)
    parts = split(text, cfg.val_fraction)
    mcfg = CharRNNConfig(tokens=plan.tokens, n_hidden=plan.n_hidden, n_layers=cfg.n_layers,
                         dropout=cfg.dropout)
    x, y = as_rows(encode(parts.train, plan.tokens), plan.batch_size, plan.steps_per_epoch * plan.seq_length)
    val = encode(parts.validation, plan.tokens)
    with _own_rng(cfg.seed, dev):
        model = CharRNN(mcfg)  # PyTorch's default init, from the seeded global generator
        return _run(cfg, plan, mcfg, model, x.to(dev), y.to(dev), val.to(dev), progress, notes,
                    Path(checkpoint_path) if checkpoint_path is not None else None, resume, dev)


def _run(cfg: TrainConfig, plan: Plan, mcfg: CharRNNConfig, model: CharRNN, x: torch.Tensor,
         y: torch.Tensor, val: torch.Tensor, progress: Progress, notes: list[str], path: Path | None,
         resume: bool, dev: torch.device) -> TrainResult:
    model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step = 0
    hidden: Hidden | None = None
    history: list[dict[str, float]] = []
    samples: list[str] = []
    window = MetricWindow(METRICS)
    if path is not None and resume and path.exists():
        state = _load_state(path, cfg, plan)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        _set_rng(state["rng"], dev)
        step, history, samples = state["step"], list(state["history"]), list(state["samples"])
        hidden = (state["hidden"][0].to(dev), state["hidden"][1].to(dev)) if state["hidden"] else None
        window = MetricWindow.from_state(METRICS, state["window"])
    resumed_from = step

    def save() -> None:
        if path is not None:
            _save_state(path, cfg=cfg, plan=plan, step=step, model=model, opt=opt, hidden=hidden,
                        history=history, samples=samples, window=window, dev=dev)

    if step < plan.total_steps:
        where = f"resuming at step {step}" if step else "starting"
        progress.update(step, plan.total_steps, f"{where}: {plan.train_chars:,} characters "
                        f"({len(plan.tokens)} distinct), batch {plan.batch_size} x {plan.seq_length}, "
                        f"{plan.steps_per_epoch} steps per epoch")
    vocab = len(plan.tokens)
    for epoch in range(step // plan.steps_per_epoch, cfg.epochs):
        for batch in range(step % plan.steps_per_epoch, plan.steps_per_epoch):
            # Top of a step: weights, optimizer, hidden state and random state agree with ``step``.
            checkpoint_or_cancel(progress, save, step=step, resumed_from=resumed_from,
                                 every=cfg.checkpoint_every)
            cols = slice(batch * plan.seq_length, (batch + 1) * plan.seq_length)
            loss, hidden = train_step(model, opt, one_hot(x[:, cols], vocab), y[:, cols], hidden, cfg.clip)
            step += 1
            metrics = {"loss": loss}
            check_finite(metrics, step)
            window.add(metrics)
            end_of_epoch = step % plan.steps_per_epoch == 0
            if not (end_of_epoch or step % plan.report_every == 0):
                continue
            reported = window.report(history, step, step / plan.steps_per_epoch,
                                     restart=step % plan.report_every == 0)
            message = f"epoch {epoch + 1}/{cfg.epochs}, step {step}"
            picture = None
            if end_of_epoch:
                hidden = None  # the next epoch starts from the text's start, with a fresh state
                val_loss = validation_loss(model, val, plan.batch_size, plan.seq_length)
                check_finite({"val_loss": val_loss}, step)
                reported["val_loss"] = history[-1]["val_loss"] = val_loss
                message += f": validation loss {val_loss:.3f} nats/char"
                if plan.sample_length:
                    sample = plan.prime + _sample(model, cfg, plan, dev)
                    samples.append(sample)
                    message += f"\n{sample}"
                    picture = text_image(sample)  # the studio's job page shows it as the preview
            progress.update(step, plan.total_steps, message, preview=picture, metrics=reported)
    if step != resumed_from:
        save()

    final = {k: v for k, v in history[-1].items() if k not in ("step", "epoch")} if history else {}
    val_losses = [h["val_loss"] for h in history if "val_loss" in h]
    if step == resumed_from:
        progress.update(step, plan.total_steps, "already trained", metrics=final)
    if samples:
        notes.append(f"sample after the last epoch:\n{samples[-1]}")
    extra = {
        "source": "trained in the studio (ml.textgen.train)",
        "train_config": asdict(cfg),
        "characters": plan.train_chars,
        "validation_characters": plan.val_chars,
        "batch_size": plan.batch_size,
        "steps": step,
        "metrics": final,
        "val_loss": val_losses[-1] if val_losses else None,
        "best_val_loss": min(val_losses) if val_losses else None,
        "samples": samples,
    }
    model.eval()
    return TrainResult(
        checkpoint=checkpoint_dict(family="textgen", config=mcfg, state_dict=model.state_dict(), extra=extra),
        final=final, history=history, preview=text_image(samples[-1] if samples else ""), step=step,
        total_steps=plan.total_steps, resumed_from=resumed_from, images=plan.train_chars,
        batch_size=plan.batch_size, notes=notes,
    )


def train_step(model: CharRNN, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               hidden: Hidden | None, clip: float) -> tuple[float, Hidden]:
    """One step on (N, T, V) one-hot input and (N, T) targets from ``hidden`` (None: zeros). Returns
    the loss (nats/char) and the new hidden state, detached so the next step's gradients stop here."""
    if hidden is not None:
        hidden = (hidden[0].detach(), hidden[1].detach())
    opt.zero_grad()
    logits, hidden = model(x, hidden)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss.item(), (hidden[0].detach(), hidden[1].detach())


@torch.inference_mode()
def validation_loss(model: CharRNN, val: torch.Tensor, batch_size: int, seq_length: int) -> float:
    """Mean cross-entropy (nats/char) of predicting each validation character from the ones before,
    read as training reads (rows side by side, hidden state carried), in eval mode (no dropout)."""
    rows = max(1, min(batch_size, (len(val) - 1) // seq_length))
    x, y = as_rows(val, rows, (len(val) - 1) // rows)
    was_training = model.training
    model.eval()
    total, count, hidden = 0.0, 0, None
    for start in range(0, x.shape[1], seq_length):
        logits, hidden = model(one_hot(x[:, start:start + seq_length], len(model.tokens)), hidden)
        target = y[:, start:start + seq_length]
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                 reduction="sum").item()
        count += target.numel()
    model.train(was_training)
    return total / max(count, 1)


def _sample(model: CharRNN, cfg: TrainConfig, plan: Plan, dev: torch.device) -> str:
    text = "".join(generate(model, plan.prime, plan.sample_length, cfg.temperature, cfg.top_k, cfg.seed, dev))
    model.train()
    return text


def text_image(text: str, width: int = 72) -> Image.Image:
    """The sample as a picture (TrainResult.preview is an image): wrapped lines, default font."""
    lines = [wrapped for line in (text or "(no sample)").splitlines()[:24]
             for wrapped in (textwrap.wrap(line, width) or [""])][:24]
    img = Image.new("RGB", (8 + 6 * width, 8 + 12 * max(len(lines), 1)), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((4, 4 + 12 * i), line.encode("latin-1", "replace").decode("latin-1"), fill="black")
    return img


# --- random state ----------------------------------------------------------------------------------


@contextmanager
def _own_rng(seed: int, dev: torch.device) -> Iterator[None]:
    """The global generator (the only one nn.Dropout draws from) seeded for this run, and the
    caller's state put back afterwards."""
    devices = []
    if dev.type == "cuda":
        devices = [dev.index if dev.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _get_rng(dev: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if dev.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(dev)
    return state


def _set_rng(state: dict[str, torch.Tensor], dev: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if dev.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], dev)


# --- the training checkpoint ----------------------------------------------------------------------

# Settings a resumed run must share with the checkpoint; epochs, reporting, sampling and saving may change.
_SAME_ON_RESUME = ("n_hidden", "n_layers", "dropout", "batch_size", "seq_length", "lr", "clip",
                   "val_fraction", "seed", "dry_run")


def _save_state(path: Path, *, cfg: TrainConfig, plan: Plan, step: int, model: CharRNN,
                opt: torch.optim.Optimizer, hidden: Hidden | None, history: list[dict[str, float]],
                samples: list[str], window: MetricWindow, dev: torch.device) -> None:
    state = {
        "format": TRAINING_FORMAT,
        "version": TRAINING_VERSION,
        "family": "textgen",
        "config": asdict(cfg),
        "plan": asdict(plan),
        "step": step,
        "model": cpu_state_dict(model),
        "opt": opt.state_dict(),
        "hidden": [h.detach().cpu() for h in hidden] if hidden is not None else None,  # mid-epoch only
        "rng": _get_rng(dev),
        "history": history,
        "samples": samples,
        "window": window.state(),
    }
    save_state(path, state)


def _load_state(path: Path, cfg: TrainConfig, plan: Plan) -> dict[str, Any]:
    state = load_state(path, TRAINING_FORMAT, TRAINING_VERSION, "char-RNN")
    check_same_settings(state["config"], asdict(cfg), _SAME_ON_RESUME)
    old = state["plan"]
    if old["fingerprint"] != plan.fingerprint or old["tokens"] != plan.tokens:
        raise TrainError(f"cannot resume: the checkpoint was trained on another text "
                         f"({old['train_chars']:,} training characters then, {plan.train_chars:,} now)")
    check_not_past(state["step"], plan.total_steps, f" ({cfg.epochs} epochs)")
    return state
