"""Write text with a char-RNN, one character at a time (Udacity's ``sample``, streamed):

    python -m ml.textgen.predict --checkpoint X.pt --prime "It is" --length 500 --temperature 0.8 \
        --top-k 5 --seed 1

How the text is drawn (a seeded sampler on the model's device; a prime with unknown characters is
refused): ml/textgen/infer.py.
"""

from __future__ import annotations

import argparse
import sys

from ml.common.checkpoint import CheckpointError
from ml.common.device import pick_device
from ml.textgen.formats import import_char_rnn
from ml.textgen.infer import generate, load


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ml.textgen.predict", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="studio textgen checkpoint or Udacity char-RNN file")
    p.add_argument("--prime", default="The ", help="text to start from (printed first)")
    p.add_argument("--length", type=int, default=500, help="characters to write after the prime")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=5, help="sample among the k likeliest (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        model = load(import_char_rnn(args.checkpoint))
        chars = generate(model, args.prime, args.length, args.temperature, args.top_k or None, args.seed,
                         pick_device(args.device))
    except (CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(args.prime)
    for ch in chars:
        sys.stdout.write(ch)
        sys.stdout.flush()  # a character as it comes, not when the buffer fills
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
