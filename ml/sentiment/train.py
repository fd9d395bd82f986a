"""Command line for sentiment training (the training itself is ml/sentiment/training.py):

    python -m ml.sentiment.train DATA.csv|aclImdb/ -o out.pt --kind lstm|bow --epochs 4 [--resume] [--dry-run]

The LSTM starter's recipe: --word-vectors $WORD_VECTORS --embedding-dim 100 --hidden 64 --layers 1
--bidirectional --window 100 --pool meanmax --embedding-dropout 0.3 --batch-size 4 --lr 2e-3
--length 1500 --keep last (scripts/text_data.sh fetches the vectors and prints WORD_VECTORS).

DATA is a labelled CSV (see ml/sentiment/data.py) or an unpacked aclImdb folder (its train part).
Writes the model (studio checkpoint, test figures in extra), its ROC curve as OUTPUT.png and the
training state as OUTPUT.train.pt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ml.common import training_cli as cli
from ml.common.training import TrainResult
from ml.common.word_vectors import VectorsError
from ml.common.word_vectors import load as load_vectors
from ml.sentiment.config import DRY_RUN_BATCH, DRY_RUN_ROWS, DRY_RUN_STEPS, KINDS, POOLS, TrainConfig
from ml.sentiment.data import (
    KEEP_SIDES,
    MAX_BYTES,
    MAX_ROWS,
    LabelledTexts,
    SentimentDataError,
    read_csv,
    read_imdb,
)
from ml.sentiment.training import train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p, d = cli.training_parser("ml.sentiment.train", __doc__, TrainConfig)
    p.add_argument("data", help="a labelled CSV (text,label) or an aclImdb folder")
    p.add_argument("-o", "--output", default="sentiment.pt", help="the trained model (studio checkpoint)")
    p.add_argument("--kind", choices=KINDS, default=d["kind"])
    cli.add_numbers(p, d, int, "epochs", "batch_size", "patience", "max_words", "length", "embedding_dim",
                    "hidden", "layers", "window")
    cli.add_numbers(p, d, float, "lr", "clip", "dropout", "embedding_dropout")
    p.add_argument("--bidirectional", action="store_true", help="lstm: also read each text backwards")
    p.add_argument("--word-vectors", metavar="GLOVE.json", default="",
                   help="lstm: start the embedding from these GloVe vectors (--embedding-dim must match)")
    p.add_argument("--pad", choices=("left", "right"), default=d["pad"])
    p.add_argument("--keep", choices=KEEP_SIDES, default=d["keep"],
                   help="of a text longer than --length words, read its first or last ones")
    p.add_argument("--pool", choices=POOLS, default=d["pool"],
                   help="lstm: read the last step, or the mean or maximum over all steps")
    p.add_argument("--max-rows", type=int, default=MAX_ROWS, help="refuse a CSV with more rows")
    p.add_argument("--max-bytes", type=int, default=MAX_BYTES, help="refuse a larger CSV")
    # TrainConfig has no sample_every (the ROC curve comes at the end): no --sample-every.
    cli.add_common_args(p, d, dry_run_help=f"{DRY_RUN_ROWS} texts, a tiny model, batch {DRY_RUN_BATCH}, "
                                           f"{DRY_RUN_STEPS} steps per epoch")
    return p.parse_args(argv)


def read_data(path: str, max_rows: int, max_bytes: int) -> LabelledTexts:
    if Path(path).is_dir():
        return read_imdb(path, "train")
    return read_csv(path, max_rows=max_rows, max_bytes=max_bytes)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    words = []  # the vectors, read with the data (a bad file is reported like bad data)

    def read(cfg: TrainConfig) -> LabelledTexts:
        if args.word_vectors:
            words.append(load_vectors(args.word_vectors))
        return _texts(args)

    return cli.train_main(args, f"sentiment {args.kind}", config=lambda: _config(args),
                          read=read, read_errors=(SentimentDataError, VectorsError, OSError),
                          train=lambda *a, **kw: train(*a, **kw, vectors=words[0] if words else None),
                          outputs=cli.Outputs("model", cli.picture_path(None, args.output), "ROC curve",
                                              details=_test_figures),
                          error_labels=("error (settings)", "error (data)"))


def _config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(kind=args.kind, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       clip=args.clip, patience=args.patience, seed=args.seed, max_words=args.max_words,
                       length=args.length, pad=args.pad, keep=args.keep, pool=args.pool,
                       bidirectional=args.bidirectional, window=args.window,
                       embedding_dropout=args.embedding_dropout, word_vectors=bool(args.word_vectors),
                       embedding_dim=args.embedding_dim, hidden=args.hidden, layers=args.layers,
                       dropout=args.dropout, checkpoint_every=args.checkpoint_every,
                       dry_run=args.dry_run)


def _texts(args: argparse.Namespace) -> LabelledTexts:
    data = read_data(args.data, args.max_rows, args.max_bytes)
    print(f"{len(data)} texts from {args.data} ({sum(data.labels)} positive)")
    return data


def _test_figures(result: TrainResult) -> str:
    m, r = result.checkpoint["extra"]["metrics"], result.checkpoint["extra"]["report"]
    return (f"test ({r['test_rows']} texts): accuracy {m['accuracy']:.3f}, precision {m['precision']:.3f}, "
            f"recall {m['recall']:.3f}, ROC AUC {m['roc_auc']:.3f}, confusion [[TN, FP], [FN, TP]] "
            f"{r['confusion']}")


if __name__ == "__main__":
    sys.exit(main())
