"""Command line for DCGAN training (the training itself is ml/dcgan/training.py):

    python -m ml.dcgan.train IMAGES.zip|FOLDER -o out.pt --epochs 25 --size 64 [--resume] [--dry-run]
"""

from __future__ import annotations

import argparse
import sys

from PIL import Image

from ml.common import training_cli as cli
from ml.common.image_zip import RESIZE_MODES, ImageZipError
from ml.dcgan.config import DRY_RUN_BATCH, DRY_RUN_IMAGES, DRY_RUN_STEPS, IMAGE_SIZES, TrainConfig
from ml.dcgan.training import train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p, defaults = cli.training_parser("ml.dcgan.train", __doc__, TrainConfig)
    p.add_argument("images", help="a zip of images or a folder of them (any sizes; made square)")
    p.add_argument("-o", "--output", default="dcgan.pt", help="the trained generator (studio checkpoint)")
    cli.add_numbers(p, defaults, int, "epochs")
    p.add_argument("--size", type=int, choices=IMAGE_SIZES, default=defaults["image_size"],
                   help="image side in pixels")
    cli.add_numbers(p, defaults, int, "batch_size", "nz", "ngf", "ndf")
    cli.add_numbers(p, defaults, float, "lr")
    p.add_argument("--resize", choices=RESIZE_MODES, default=defaults["resize_mode"],
                   help="how non-square images become squares")
    p.add_argument("--grid", default=None, help="final sample grid PNG (default: OUTPUT with .png)")
    cli.add_common_args(p, defaults, dry_run_help=f"{DRY_RUN_IMAGES} images, batch {DRY_RUN_BATCH}, "
                                                  f"{DRY_RUN_STEPS} steps per epoch")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.train_main(args, "dcgan", config=lambda: _config(args), read=lambda cfg: _images(args, cfg),
                          read_errors=(ImageZipError,), train=train,
                          outputs=cli.Outputs("generator", cli.picture_path(args.grid, args.output),
                                              f"samples, seed {args.seed}"))


def _config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(image_size=args.size, nz=args.nz, ngf=args.ngf, ndf=args.ndf, epochs=args.epochs,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed, sample_every=args.sample_every,
                       checkpoint_every=args.checkpoint_every, resize_mode=args.resize, dry_run=args.dry_run)


def _images(args: argparse.Namespace, cfg: TrainConfig) -> list[Image.Image]:
    images = cli.read_image_set(args.images, cfg.image_size, cfg.resize_mode)
    print(f"{len(images)} images from {args.images}")
    return images


if __name__ == "__main__":
    sys.exit(main())
