"""Command line for DCGAN training (the training itself is ml/dcgan/training.py):

    python -m ml.dcgan.train IMAGES.zip|FOLDER -o out.pt --epochs 25 --size 64 [--resume] [--dry-run]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from functools import partial
from pathlib import Path

import torch

from ml.common.image_zip import RESIZE_MODES, ImageZipError, prepare_image, read_images
from ml.common.progress import Cancelled
from ml.common.terminal import StoppableProgress
from ml.dcgan.config import IMAGE_SIZES
from ml.dcgan.training import (
    DRY_RUN_BATCH,
    DRY_RUN_IMAGES,
    DRY_RUN_STEPS,
    TrainConfig,
    TrainError,
    train,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ml.dcgan.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    p.add_argument("images", help="a zip of images or a folder of them (any sizes; made square)")
    p.add_argument("-o", "--output", default="dcgan.pt", help="the trained generator (studio checkpoint)")
    p.add_argument("--epochs", type=int, default=defaults["epochs"])
    p.add_argument("--size", type=int, choices=IMAGE_SIZES, default=defaults["image_size"],
                   help="image side in pixels")
    p.add_argument("--batch-size", type=int, default=defaults["batch_size"])
    p.add_argument("--nz", type=int, default=defaults["nz"])
    p.add_argument("--ngf", type=int, default=defaults["ngf"])
    p.add_argument("--ndf", type=int, default=defaults["ndf"])
    p.add_argument("--lr", type=float, default=defaults["lr"])
    p.add_argument("--seed", type=int, default=defaults["seed"])
    p.add_argument("--resize", choices=RESIZE_MODES, default=defaults["resize_mode"],
                   help="how non-square images become squares")
    p.add_argument("--sample-every", type=int, default=defaults["sample_every"])
    p.add_argument("--checkpoint-every", type=int, default=defaults["checkpoint_every"])
    p.add_argument("--state", default=None,
                   help="training checkpoint (default: OUTPUT with .train.pt); --resume continues it")
    p.add_argument("--resume", action="store_true", help="continue from --state if it exists")
    p.add_argument("--grid", default=None, help="final sample grid PNG (default: OUTPUT with .png)")
    p.add_argument("--dry-run", action="store_true",
                   help=f"{DRY_RUN_IMAGES} images, batch {DRY_RUN_BATCH}, {DRY_RUN_STEPS} steps per epoch")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.output)
    state = Path(args.state) if args.state else out.with_suffix(".train.pt")
    grid_path = Path(args.grid) if args.grid else out.with_suffix(".png")
    try:
        cfg = TrainConfig(image_size=args.size, nz=args.nz, ngf=args.ngf, ndf=args.ndf, epochs=args.epochs,
                          batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          sample_every=args.sample_every, checkpoint_every=args.checkpoint_every,
                          resize_mode=args.resize, dry_run=args.dry_run)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        # Each image is made square as it is decoded: one full-size photo in memory at a time.
        found = read_images(args.images, transform=partial(prepare_image, size=cfg.image_size,
                                                             mode=cfg.resize_mode))
    except ImageZipError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in found.warnings[:10]:
        print(f"skipped {warning}", file=sys.stderr)
    if len(found.warnings) > 10:
        print(f"... and {len(found.warnings) - 10} more skipped", file=sys.stderr)
    print(f"{len(found.images)} images from {args.images}")

    progress = StoppableProgress("dcgan")
    started = time.monotonic()
    try:
        result = train(cfg, found.images, progress, checkpoint_path=state, resume=args.resume,
                       device=args.device)
    except Cancelled:
        progress.close()
        print(f"stopped; the training checkpoint is {state}: add --resume to continue", file=sys.stderr)
        return 130
    except TrainError as exc:
        progress.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    progress.close()
    for note in result.notes:
        print(f"note: {note}")
    torch.save(result.checkpoint, out)
    result.preview.save(grid_path)
    losses = ", ".join(f"{k} {v:.3f}" for k, v in result.final.items())
    print(f"trained steps {result.resumed_from}-{result.step} of {result.total_steps} in "
          f"{time.monotonic() - started:.0f} s ({losses})")
    print(f"wrote {out} (generator), {grid_path} (samples, seed {cfg.seed}), {state} (training state)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
