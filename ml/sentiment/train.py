"""Command line for sentiment training (the training itself is ml/sentiment/training.py):

    python -m ml.sentiment.train DATA.csv|aclImdb/ -o out.pt --kind lstm|bow --epochs 4 [--resume] [--dry-run]

DATA is a labelled CSV (see ml/sentiment/data.py) or an unpacked aclImdb folder (its train part).
Writes the model (studio checkpoint, test figures in extra), its ROC curve as OUTPUT.png and the
training state as OUTPUT.train.pt.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from pathlib import Path

import torch

from ml.common.training_cli import run_training, state_path, trained_summary
from ml.sentiment.config import DRY_RUN_BATCH, DRY_RUN_ROWS, DRY_RUN_STEPS, KINDS, TrainConfig
from ml.sentiment.data import MAX_BYTES, MAX_ROWS, LabelledTexts, SentimentDataError, read_csv, read_imdb
from ml.sentiment.training import train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ml.sentiment.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = {f.name: f.default for f in fields(TrainConfig)}
    p.add_argument("data", help="a labelled CSV (text,label) or an aclImdb folder")
    p.add_argument("-o", "--output", default="sentiment.pt", help="the trained model (studio checkpoint)")
    p.add_argument("--kind", choices=KINDS, default=d["kind"])
    for name in ("epochs", "batch_size", "patience", "max_words", "length", "embedding_dim", "hidden",
                 "layers", "seed", "checkpoint_every"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=d[name])
    for name in ("lr", "clip", "dropout"):
        p.add_argument("--" + name, type=float, default=d[name])
    p.add_argument("--pad", choices=("left", "right"), default=d["pad"])
    p.add_argument("--max-rows", type=int, default=MAX_ROWS, help="refuse a CSV with more rows")
    p.add_argument("--max-bytes", type=int, default=MAX_BYTES, help="refuse a larger CSV")
    p.add_argument("--state", default=None,
                   help="training checkpoint (default: OUTPUT with .train.pt); --resume continues it")
    p.add_argument("--resume", action="store_true", help="continue from --state if it exists")
    p.add_argument("--dry-run", action="store_true", help=f"{DRY_RUN_ROWS} texts, a tiny model, batch "
                                                          f"{DRY_RUN_BATCH}, {DRY_RUN_STEPS} steps per epoch")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    return p.parse_args(argv)


def read_data(path: str, max_rows: int, max_bytes: int) -> LabelledTexts:
    if Path(path).is_dir():
        return read_imdb(path, "train")
    return read_csv(path, max_rows=max_rows, max_bytes=max_bytes)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.output)
    state = state_path(args)
    try:
        cfg = TrainConfig(kind=args.kind, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          clip=args.clip, patience=args.patience, seed=args.seed, max_words=args.max_words,
                          length=args.length, pad=args.pad, embedding_dim=args.embedding_dim,
                          hidden=args.hidden, layers=args.layers, dropout=args.dropout,
                          checkpoint_every=args.checkpoint_every, dry_run=args.dry_run)
        data = read_data(args.data, args.max_rows, args.max_bytes)
    except (ValueError, OSError) as exc:  # SentimentDataError is a ValueError
        kind = "data" if isinstance(exc, (SentimentDataError, OSError)) else "settings"
        print(f"error ({kind}): {exc}", file=sys.stderr)
        return 2 if kind == "settings" else 1
    print(f"{len(data)} texts from {args.data} ({sum(data.labels)} positive)")

    started = time.monotonic()
    result = run_training(f"sentiment {cfg.kind}", state, lambda progress: train(
        cfg, data, progress, checkpoint_path=state, resume=args.resume, device=args.device))
    if isinstance(result, int):
        return result
    torch.save(result.checkpoint, out)
    roc_path = out.with_suffix(".png")
    result.preview.save(roc_path)
    print(trained_summary(result, started, ".3f"))
    m, r = result.checkpoint["extra"]["metrics"], result.checkpoint["extra"]["report"]
    print(f"test ({r['test_rows']} texts): accuracy {m['accuracy']:.3f}, precision {m['precision']:.3f}, "
          f"recall {m['recall']:.3f}, ROC AUC {m['roc_auc']:.3f}, confusion [[TN, FP], [FN, TP]] "
          f"{r['confusion']}")
    print(f"wrote {out} (model), {roc_path} (ROC curve), {state} (training state)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
