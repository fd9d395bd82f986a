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

from ml.common.image_zip import RESIZE_MODES, ImageZipError, prepare_image
from ml.common.training_cli import add_common_args, read_image_set, run_training, state_path, trained_summary
from ml.dcgan.config import DRY_RUN_BATCH, DRY_RUN_IMAGES, DRY_RUN_STEPS, IMAGE_SIZES, TrainConfig
from ml.dcgan.training import train


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
    p.add_argument("--resize", choices=RESIZE_MODES, default=defaults["resize_mode"],
                   help="how non-square images become squares")
    p.add_argument("--grid", default=None, help="final sample grid PNG (default: OUTPUT with .png)")
    add_common_args(p, defaults, dry_run_help=f"{DRY_RUN_IMAGES} images, batch {DRY_RUN_BATCH}, "
                                              f"{DRY_RUN_STEPS} steps per epoch")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.output)
    state = state_path(args)
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
        images = read_image_set(args.images,
                                partial(prepare_image, size=cfg.image_size, mode=cfg.resize_mode))
    except ImageZipError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(images)} images from {args.images}")

    started = time.monotonic()
    result = run_training("dcgan", state, lambda progress: train(
        cfg, images, progress, checkpoint_path=state, resume=args.resume, device=args.device))
    if isinstance(result, int):
        return result
    torch.save(result.checkpoint, out)
    result.preview.save(grid_path)
    print(trained_summary(result, started, ".3f"))
    print(f"wrote {out} (generator), {grid_path} (samples, seed {cfg.seed}), {state} (training state)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
