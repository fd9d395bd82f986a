"""Train a char-RNN on a text: the Udacity char-rnn recipe (deep-learning-v2-pytorch,
recurrent-neural-networks/char-rnn), streamed through the studio's Progress protocol.

The command line is ml/textgen/train.py:
    python -m ml.textgen.train TEXT.txt|--austen -o out.pt --epochs 20 [--resume] [--dry-run]

Recipe: the text (its last ``val_fraction`` held out) is cut into ``batch_size`` contiguous rows, each
read ``seq_length`` characters per step, so row i of a batch continues row i of the one before and
the LSTM's hidden state is carried from batch to batch within an epoch (detached: gradients stop at
the batch's start) and reset at each epoch's start. Cross-entropy on the next character, Adam
lr 1e-3 (``lr_final`` < 1: falling linearly to lr * lr_final at the last step), gradient norm
clipped to 5, dropout 0.5. After each epoch: the validation loss (nats per
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
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from ml.common.checkpoint import checkpoint_dict
from ml.common.device import pick_device
from ml.common.progress import Progress
from ml.common.training import TrainResult, check_finite
from ml.common.training_run import TrainingRun, TrainingSpec
from ml.textgen.config import DRY_RUN_CHARS, CharRNNConfig, TrainConfig
from ml.textgen.data import Plan, as_rows, plan_run, split
from ml.textgen.formats import encode, one_hot
from ml.textgen.infer import generate
from ml.textgen.model import CharRNN, Hidden

METRICS = ("loss",)  # training cross-entropy, nats per character
# The training checkpoint. Settings a resumed run must share with it; epochs, reporting, sampling and
# saving may change.
SPEC = TrainingSpec(format="studio-textgen-training", version=1, family="textgen", what="char-RNN",
                    metrics=METRICS,
                    same_on_resume=("n_hidden", "n_layers", "dropout", "batch_size", "seq_length", "lr",
                                    "clip", "val_fraction", "seed", "dry_run"))


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
                    checkpoint_path, resume, dev)


def _run(cfg: TrainConfig, plan: Plan, mcfg: CharRNNConfig, model: CharRNN, x: torch.Tensor,
         y: torch.Tensor, val: torch.Tensor, progress: Progress, notes: list[str],
         path: str | os.PathLike[str] | None, resume: bool, dev: torch.device) -> TrainResult:
    model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    hidden: Hidden | None = None  # carried from batch to batch within an epoch
    samples: list[str] = []
    run = TrainingRun(SPEC, cfg, plan, progress, path, resume, parts={"model": model, "opt": opt},
                      fields=lambda: {
                          "hidden": [h.detach().cpu() for h in hidden] if hidden is not None else None,
                          "rng": _get_rng(dev),  # the global generator's: dropout draws from it
                          "samples": samples})
    state = run.resume(lambda old: _other_text(old, plan), f" ({cfg.epochs} epochs)")
    if state is not None:
        _set_rng(state["rng"], dev)
        samples = list(state["samples"])
        hidden = (state["hidden"][0].to(dev), state["hidden"][1].to(dev)) if state["hidden"] else None
    run.start(f"{plan.train_chars:,} characters ({len(plan.tokens)} distinct), batch {plan.batch_size} x "
              f"{plan.seq_length}, {plan.steps_per_epoch} steps per epoch")
    vocab = len(plan.tokens)
    for epoch in range(run.step // plan.steps_per_epoch, cfg.epochs):
        for batch in range(run.step % plan.steps_per_epoch, plan.steps_per_epoch):
            # Top of a step: weights, optimizer, hidden state and random state agree with ``step``.
            run.checkpoint_or_cancel()
            cols = slice(batch * plan.seq_length, (batch + 1) * plan.seq_length)
            # From the step alone (not a scheduler's state), so a resumed run picks up the same rate.
            for group in opt.param_groups:
                group["lr"] = cfg.lr * (1 - (1 - cfg.lr_final) * run.step / plan.total_steps)
            loss, hidden = train_step(model, opt, one_hot(x[:, cols], vocab), y[:, cols], hidden, cfg.clip)
            run.add({"loss": loss})
            end_of_epoch = run.step % plan.steps_per_epoch == 0
            if not (end_of_epoch or run.due(plan.report_every)):
                continue
            reported = run.report(run.step / plan.steps_per_epoch, plan.report_every)
            message = f"epoch {epoch + 1}/{cfg.epochs}, step {run.step}"
            picture = None
            if end_of_epoch:
                hidden = None  # the next epoch starts from the text's start, with a fresh state
                val_loss = validation_loss(model, val, plan.batch_size, plan.seq_length)
                check_finite({"val_loss": val_loss}, run.step)
                reported["val_loss"] = run.history[-1]["val_loss"] = val_loss
                message += f": validation loss {val_loss:.3f} nats/char"
                if plan.sample_length:
                    sample = plan.prime + _sample(model, cfg, plan, dev)
                    samples.append(sample)
                    message += f"\n{sample}"
                    picture = text_image(sample)  # the studio's job page shows it as the preview
            run.update(message, preview=picture, metrics=reported)
    final = run.finish()
    val_losses = [h["val_loss"] for h in run.history if "val_loss" in h]
    if samples:
        notes.append(f"sample after the last epoch:\n{samples[-1]}")
    extra = {
        "source": "trained in the studio (ml.textgen.train)",
        "train_config": asdict(cfg),
        "characters": plan.train_chars,
        "validation_characters": plan.val_chars,
        "batch_size": plan.batch_size,
        "steps": run.step,
        "metrics": final,
        "val_loss": val_losses[-1] if val_losses else None,
        "best_val_loss": min(val_losses) if val_losses else None,
        "samples": samples,
    }
    model.eval()
    checkpoint = checkpoint_dict(family="textgen", config=mcfg, state_dict=model.state_dict(), extra=extra)
    return run.result(checkpoint, final, text_image(samples[-1] if samples else ""), images=plan.train_chars,
                      batch_size=plan.batch_size, notes=notes)


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


def _other_text(old: dict[str, Any], plan: Plan) -> str | None:
    """How the training checkpoint's text (its plan) differs from this run's; None: it does not."""
    if old["fingerprint"] != plan.fingerprint or old["tokens"] != plan.tokens:
        return (f"on another text ({old['train_chars']:,} training characters then, "
                f"{plan.train_chars:,} now)")
    return None
