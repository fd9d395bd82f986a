"""Command line for char-RNN training (the training itself is ml/textgen/training.py):

    python -m ml.textgen.train TEXT.txt -o out.pt --epochs 20 [--resume] [--dry-run]
    python -m ml.textgen.train --austen -o austen.pt --n-hidden 256 --epochs 3

--austen trains on Jane Austen's six novels from the Debian package r-cran-janeaustenr.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields

import torch
from PIL import Image
from tqdm import tqdm

from ml.common.progress import Progress
from ml.common.training_cli import add_common_args, run_training, state_path, trained_summary
from ml.textgen.config import DRY_RUN_BATCH, DRY_RUN_CHARS, DRY_RUN_SEQ, DRY_RUN_STEPS, TrainConfig
from ml.textgen.data import AustenDataError, TextDataError, austen_text, read_text
from ml.textgen.training import train


class _EpochPrinter:
    """Passes everything on to the terminal bar, and prints each epoch's validation loss and sample
    above it (the bar shows only the numbers)."""

    def __init__(self, inner: Progress) -> None:
        self.inner = inner

    def update(self, step: int, total: int, message: str = "", preview: Image.Image | None = None,
               metrics: dict[str, float] | None = None) -> None:
        if metrics and "val_loss" in metrics:
            tqdm.write(message)
        self.inner.update(step, total, message, preview, metrics)

    def cancelled(self) -> bool:
        return self.inner.cancelled()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ml.textgen.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = {f.name: f.default for f in fields(TrainConfig)}
    p.add_argument("text", nargs="?", default=None, help="a UTF-8 text file (under 10 MB)")
    p.add_argument("--austen", nargs="?", const="", default=None, metavar="DATA_DIR",
                   help="train on Jane Austen's novels (r-cran-janeaustenr; optionally its data folder)")
    p.add_argument("-o", "--output", default="textgen.pt", help="the trained model (studio checkpoint)")
    p.add_argument("--epochs", type=int, default=d["epochs"])
    p.add_argument("--seq-length", type=int, default=d["seq_length"])
    p.add_argument("--batch-size", type=int, default=d["batch_size"])
    p.add_argument("--n-hidden", type=int, default=d["n_hidden"])
    p.add_argument("--n-layers", type=int, default=d["n_layers"])
    p.add_argument("--dropout", type=float, default=d["dropout"])
    p.add_argument("--lr", type=float, default=d["lr"])
    p.add_argument("--clip", type=float, default=d["clip"])
    p.add_argument("--val-fraction", type=float, default=d["val_fraction"])
    p.add_argument("--report-every", type=int, default=d["report_every"])
    p.add_argument("--sample-length", type=int, default=d["sample_length"],
                   help="characters of the sample written after each epoch (0: none)")
    p.add_argument("--prime", default=d["sample_prime"], help="what the samples start from")
    p.add_argument("--temperature", type=float, default=d["temperature"])
    p.add_argument("--top-k", type=int, default=d["top_k"])
    # TrainConfig has no sample_every (samples come once per epoch); the shared option is unused.
    add_common_args(p, {**d, "sample_every": 0}, dry_run_help=(
        f"the first {DRY_RUN_CHARS} characters, a tiny net, batch {DRY_RUN_BATCH} x {DRY_RUN_SEQ}, "
        f"{DRY_RUN_STEPS} steps per epoch"))
    args = p.parse_args(argv)
    if (args.text is None) == (args.austen is None):
        p.error("give a text file or --austen (not both)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = state = None
    try:
        cfg = TrainConfig(n_hidden=args.n_hidden, n_layers=args.n_layers, dropout=args.dropout,
                          epochs=args.epochs, batch_size=args.batch_size, seq_length=args.seq_length,
                          lr=args.lr, clip=args.clip, val_fraction=args.val_fraction, seed=args.seed,
                          report_every=args.report_every, sample_length=args.sample_length,
                          sample_prime=args.prime, temperature=args.temperature, top_k=args.top_k,
                          checkpoint_every=args.checkpoint_every, dry_run=args.dry_run)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.austen is not None:
            text, source = austen_text(args.austen or None), "Jane Austen's six novels"
        else:
            text, source = read_text(args.text), args.text
    except (TextDataError, AustenDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(text):,} characters from {source}")

    out, state = args.output, state_path(args)
    started = time.monotonic()
    result = run_training("textgen", state, lambda progress: train(
        cfg, text, _EpochPrinter(progress), checkpoint_path=state, resume=args.resume, device=args.device))
    if isinstance(result, int):
        return result
    torch.save(result.checkpoint, out)
    print(trained_summary(result, started, ".3f") + " (nats per character)")
    print(f"wrote {out} (model), {state} (training state)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
