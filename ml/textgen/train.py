"""Command line for char-RNN training (the training itself is ml/textgen/training.py):

    python -m ml.textgen.train TEXT.txt -o out.pt --epochs 20 [--resume] [--dry-run]
    python -m ml.textgen.train --austen -o austen.pt --n-hidden 256 --epochs 3

--austen trains on Jane Austen's six novels from the Debian package r-cran-janeaustenr.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from PIL import Image
from tqdm import tqdm

from ml.common import training_cli as cli
from ml.common.progress import Progress
from ml.common.training import TrainResult
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
    p, d = cli.training_parser("ml.textgen.train", __doc__, TrainConfig)
    p.add_argument("text", nargs="?", default=None, help="a UTF-8 text file (under 10 MB)")
    p.add_argument("--austen", nargs="?", const="", default=None, metavar="DATA_DIR",
                   help="train on Jane Austen's novels (r-cran-janeaustenr; optionally its data folder)")
    p.add_argument("-o", "--output", default="textgen.pt", help="the trained model (studio checkpoint)")
    cli.add_numbers(p, d, int, "epochs", "seq_length", "batch_size", "n_hidden", "n_layers")
    cli.add_numbers(p, d, float, "dropout", "lr", "lr_final", "clip", "val_fraction")
    cli.add_numbers(p, d, int, "report_every")
    p.add_argument("--sample-length", type=int, default=d["sample_length"],
                   help="characters of the sample written after each epoch (0: none)")
    p.add_argument("--prime", default=d["sample_prime"], help="what the samples start from")
    cli.add_numbers(p, d, float, "temperature")
    cli.add_numbers(p, d, int, "top_k")
    # TrainConfig has no sample_every (samples come once per epoch); the shared option is unused.
    cli.add_common_args(p, {**d, "sample_every": 0}, dry_run_help=(
        f"the first {DRY_RUN_CHARS} characters, a tiny net, batch {DRY_RUN_BATCH} x {DRY_RUN_SEQ}, "
        f"{DRY_RUN_STEPS} steps per epoch"))
    args = p.parse_args(argv)
    if (args.text is None) == (args.austen is None):
        p.error("give a text file or --austen (not both)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.train_main(args, "textgen", config=lambda: _config(args), read=lambda cfg: _text(args),
                          read_errors=(TextDataError, AustenDataError),
                          train=_train, outputs=cli.Outputs("model", summary_end=" (nats per character)"))


def _config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(n_hidden=args.n_hidden, n_layers=args.n_layers, dropout=args.dropout,
                       epochs=args.epochs, batch_size=args.batch_size, seq_length=args.seq_length, lr=args.lr,
                       lr_final=args.lr_final, clip=args.clip, val_fraction=args.val_fraction, seed=args.seed,
                       report_every=args.report_every, sample_length=args.sample_length,
                       sample_prime=args.prime, temperature=args.temperature, top_k=args.top_k,
                       checkpoint_every=args.checkpoint_every, dry_run=args.dry_run)


def _train(cfg: TrainConfig, text: str, progress: Progress, /, **kw: Any) -> TrainResult:
    return train(cfg, text, _EpochPrinter(progress), **kw)


def _text(args: argparse.Namespace) -> str:
    if args.austen is not None:
        text, source = austen_text(args.austen or None), "Jane Austen's six novels"
    else:
        text, source = read_text(args.text), args.text
    print(f"{len(text):,} characters from {source}")
    return text


if __name__ == "__main__":
    sys.exit(main())
