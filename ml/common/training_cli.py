"""What the training command lines (ml/<family>/train.py) share: the options every trainer has,
reading an image set with its skipped files named on stderr, and ``train_main``, the flow of every
``main()``: the config, the data, the training under a terminal bar that Ctrl-C stops, the files
written and the closing lines. Each train.py keeps its own arguments and its data reading.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import torch
from PIL import Image

from ml.common.image_zip import prepare_image, read_images
from ml.common.progress import Cancelled, Progress
from ml.common.terminal import StoppableProgress
from ml.common.training import TrainError, TrainResult

if TYPE_CHECKING:
    from _typeshed import DataclassInstance  # what dataclasses.fields takes

SKIPPED_SHOWN = 10  # skipped files named one by one; the rest are counted
C = TypeVar("C")  # a trainer's TrainConfig
D = TypeVar("D")  # the data its train() takes: images, a text, labelled texts ...


def training_parser(module: str, doc: str | None,
                    config: type[DataclassInstance]) -> tuple[argparse.ArgumentParser, dict[str, Any]]:
    """The parser of ``python -m module`` with ``doc`` as its description, and the defaults of the
    TrainConfig ``config`` by field name, for the options' defaults."""
    p = argparse.ArgumentParser(prog=f"python -m {module}", description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    return p, {f.name: f.default for f in fields(config)}


def add_numbers(p: argparse.ArgumentParser, defaults: dict[str, Any], kind: type[int] | type[float],
                *names: str) -> None:
    """Options for TrainConfig fields that are numbers of ``kind``: --batch-size for batch_size, with
    the field's default."""
    for name in names:
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=defaults[name])


def add_common_args(p: argparse.ArgumentParser, defaults: dict[str, Any], *, dry_run_help: str) -> None:
    """--seed, --sample-every, --checkpoint-every, --state, --resume, --dry-run and --device, with
    ``defaults`` (the trainer's TrainConfig field defaults by name) for the first three; no
    --sample-every where ``defaults`` has no sample_every."""
    p.add_argument("--seed", type=int, default=defaults["seed"])
    if "sample_every" in defaults:
        p.add_argument("--sample-every", type=int, default=defaults["sample_every"])
    p.add_argument("--checkpoint-every", type=int, default=defaults["checkpoint_every"])
    p.add_argument("--state", default=None,
                   help="training checkpoint (default: OUTPUT with .train.pt); --resume continues it")
    p.add_argument("--resume", action="store_true", help="continue from --state if it exists")
    p.add_argument("--dry-run", action="store_true", help=dry_run_help)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")


def state_path(args: argparse.Namespace) -> Path:
    """The training checkpoint: --state, or OUTPUT with .train.pt."""
    return Path(args.state) if args.state else Path(args.output).with_suffix(".train.pt")


def picture_path(given: str | None, output: str) -> Path:
    """Where a picture goes: ``given`` (an option such as --preview), or OUTPUT with .png."""
    return Path(given) if given else Path(output).with_suffix(".png")


def read_image_set(path: str, size: int, mode: str = "center-crop") -> list[Image.Image]:
    """The images of a zip or folder, each made a ``size`` square (``prepare_image`` with ``mode``) as
    it is decoded: one full-size image in memory at a time. The files it skipped are named on stderr.
    Raises ImageZipError when there is nothing to read."""
    found = read_images(path, transform=partial(prepare_image, size=size, mode=mode))
    for warning in found.warnings[:SKIPPED_SHOWN]:
        print(f"skipped {warning}", file=sys.stderr)
    if len(found.warnings) > SKIPPED_SHOWN:
        print(f"... and {len(found.warnings) - SKIPPED_SHOWN} more skipped", file=sys.stderr)
    return found.images


def run_training(desc: str, state: Path, train: Callable[[Progress], TrainResult]) -> TrainResult | int:
    """``train(progress)`` under a terminal bar named ``desc`` whose first Ctrl-C stops the training
    at its next step (it saves ``state`` first). Returns the result, its notes printed, or the exit
    status after saying why there is none: 130 stopped, 1 a TrainError."""
    progress = StoppableProgress(desc)
    try:
        try:
            result = train(progress)
        finally:
            progress.close()  # the bar ends (and Ctrl-C interrupts again) before anything is printed
    except Cancelled:
        print(f"stopped; the training checkpoint is {state}: add --resume to continue", file=sys.stderr)
        return 130
    except TrainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for note in result.notes:
        print(f"note: {note}")
    return result


def trained_summary(result: TrainResult, started: float, loss_format: str) -> str:
    """'trained steps 0-400 of 400 in 95 s (loss_d 0.512, ...)': the run's steps, its time since
    ``started`` (time.monotonic) and its final metrics, each formatted with ``loss_format`` (".3f")."""
    losses = ", ".join(f"{k} {v:{loss_format}}" for k, v in result.final.items())
    return (f"trained steps {result.resumed_from}-{result.step} of {result.total_steps} in "
            f"{time.monotonic() - started:.0f} s ({losses})")


class Trainer(Protocol):
    """A trainer's ``train`` as ``train_main`` calls it: the config, the data ``read`` gave, the
    listener, and the training checkpoint, --resume and --device."""

    def __call__(self, cfg: Any, data: Any, progress: Progress, /, *, checkpoint_path: Path, resume: bool,
                 device: str | None) -> TrainResult: ...


@dataclass(frozen=True)
class Outputs:
    """What a command line writes besides the training state, and how its closing lines read."""

    model: str  # what --output holds: "generator", "model", "style 'ink'"
    preview: Path | None = None  # where the final preview goes (None: not written)
    preview_shows: str = ""  # "samples, seed 0"
    loss_format: str = ".3f"  # of the final metrics in the summary
    summary_end: str = ""  # after the summary: " (nats per character)"
    details: Callable[[TrainResult], str] | None = None  # a line after the summary (test figures)


def train_main(args: argparse.Namespace, desc: str, *, config: Callable[[], C], read: Callable[[C], D],
               read_errors: tuple[type[Exception], ...], train: Trainer, outputs: Outputs,
               error_labels: tuple[str, str] = ("error", "error")) -> int:
    """The flow of every training command line, once its arguments are parsed; returns the exit status.

    1. ``config()``: the TrainConfig; a ValueError is a bad setting (exit 2).
    2. ``read(cfg)``: the data, saying what it read; one of ``read_errors`` is unusable data (exit 1).
       ``error_labels`` start those two messages ("error: ...").
    3. ``train(cfg, data, progress, ...)`` under a terminal bar named ``desc`` (see run_training:
       stopped 130, a TrainError 1), with the training checkpoint (``state_path``) and --resume.
    4. The studio checkpoint to --output, the preview where ``outputs`` says, then the summary, its
       details and what was written.
    """
    state = state_path(args)
    try:
        cfg = config()
    except ValueError as exc:
        print(f"{error_labels[0]}: {exc}", file=sys.stderr)
        return 2
    try:
        data = read(cfg)
    except read_errors as exc:
        print(f"{error_labels[1]}: {exc}", file=sys.stderr)
        return 1

    started = time.monotonic()
    result = run_training(desc, state, lambda progress: train(
        cfg, data, progress, checkpoint_path=state, resume=args.resume, device=args.device))
    if isinstance(result, int):
        return result
    out = Path(args.output)
    torch.save(result.checkpoint, out)
    written = [f"{out} ({outputs.model})"]
    if outputs.preview is not None:
        result.preview.save(outputs.preview)
        written.append(f"{outputs.preview} ({outputs.preview_shows})")
    print(trained_summary(result, started, outputs.loss_format) + outputs.summary_end)
    if outputs.details is not None:
        print(outputs.details(result))
    print(f"wrote {', '.join(written)}, {state} (training state)")
    return 0
