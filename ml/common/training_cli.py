"""What the three training command lines share (ml/dcgan/train.py, ml/cyclegan/train.py and
ml/fast_style/train.py): the options every trainer has, reading an image set with its skipped files
named on stderr, and running the training under a terminal bar that Ctrl-C stops.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from ml.common.image_zip import read_images
from ml.common.progress import Cancelled, Progress
from ml.common.terminal import StoppableProgress
from ml.common.training import TrainError, TrainResult

SKIPPED_SHOWN = 10  # skipped files named one by one; the rest are counted


def add_common_args(p: argparse.ArgumentParser, defaults: dict[str, Any], *, dry_run_help: str) -> None:
    """--seed, --sample-every, --checkpoint-every, --state, --resume, --dry-run and --device, with
    ``defaults`` (the trainer's TrainConfig field defaults by name) for the first three."""
    p.add_argument("--seed", type=int, default=defaults["seed"])
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


def read_image_set(path: str, transform: Callable[[Image.Image], Image.Image]) -> list[Image.Image]:
    """The images of a zip or folder, each passed through ``transform`` as it is decoded (one
    full-size image in memory at a time); the files it skipped are named on stderr. Raises
    ImageZipError when there is nothing to read."""
    found = read_images(path, transform=transform)
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
