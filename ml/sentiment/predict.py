"""Command line: each text's label, probability and most decisive words (ml/sentiment/infer.py).

    python -m ml.sentiment.predict MODEL.pt "some text" ["another" ...]
"""

from __future__ import annotations

import argparse
import sys

from ml.common.checkpoint import CheckpointError, load_checkpoint
from ml.sentiment.infer import load, predict


def main(argv: list[str] | None = None) -> int:
    """python -m ml.sentiment.predict MODEL.pt "some text" ["another" ...]: each text's label,
    probability and most decisive words."""
    p = argparse.ArgumentParser(prog="python -m ml.sentiment.predict", description=main.__doc__)
    p.add_argument("model", help="a sentiment studio checkpoint")
    p.add_argument("texts", nargs="+")
    args = p.parse_args(argv)
    try:
        ckpt = load_checkpoint(args.model)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        sm = load(ckpt)
    except CheckpointError as exc:
        print(f"error: not a usable sentiment model: {exc}", file=sys.stderr)
        return 1
    for text in args.texts:
        result = predict(sm, text)
        words = ", ".join(f"{w} {d:+.3f}" for w, d in result.words)
        print(f"{result.label} ({result.probability:.3f}): {text[:60]!r}  [{words}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
