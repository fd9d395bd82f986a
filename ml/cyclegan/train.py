"""Command line for CycleGAN training (the training itself is ml/cyclegan/training.py):

    python -m ml.cyclegan.train A.zip|FOLDER B.zip|FOLDER -o a2b.pt [--epochs 100 --epochs-decay 100]
        [--size 256 --n-blocks 9] [--resume] [--dry-run]

The output is the A -> B generator as a studio "cyclegan" checkpoint (the B -> A one rides along in
its extra["generator_b2a"]), ready for the catalog or ``python -m ml.cyclegan.predict --checkpoint``.
The defaults (the paper's 256 px nets) are meant for a GPU: on a 2-core CPU a step takes about a
minute. There, try ``--size 128 --n-blocks 6 --ngf 32 --ndf 32``.
"""

from __future__ import annotations

import argparse
import sys

from PIL import Image

from ml.common import training_cli as cli
from ml.common.image_zip import RESIZE_MODES, ImageZipError
from ml.cyclegan.config import DRY_RUN_IMAGES, DRY_RUN_STEPS, TrainConfig
from ml.cyclegan.training import train

DRY_RUN_EPOCHS = 1  # --dry-run without --epochs / --epochs-decay: one of each, so the decay runs too


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p, defaults = cli.training_parser("ml.cyclegan.train", __doc__, TrainConfig)
    p.add_argument("images_a", help="domain A: a zip of images or a folder of them (any sizes)")
    p.add_argument("images_b", help="domain B: the same, not paired with A")
    p.add_argument("-o", "--output", default="cyclegan.pt", help="the A -> B generator (studio checkpoint)")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"epochs at the full learning rate (default {defaults['epochs']}; "
                        f"{DRY_RUN_EPOCHS} with --dry-run)")
    p.add_argument("--epochs-decay", type=int, default=None,
                   help=f"epochs with the rate going linearly to 0 (default {defaults['epochs_decay']}; "
                        f"{DRY_RUN_EPOCHS} with --dry-run)")
    p.add_argument("--size", type=int, default=defaults["image_size"],
                   help="crop side in pixels (a multiple of 4)")
    p.add_argument("--load-size", type=int, default=defaults["load_size"],
                   help="images are scaled to this square first, then cropped (default: size * 286 / 256)")
    p.add_argument("--n-blocks", type=int, default=defaults["n_blocks"], help="9 for 256 px, 6 for 128 px")
    cli.add_numbers(p, defaults, int, "ngf", "ndf", "batch_size")
    cli.add_numbers(p, defaults, float, "lr")
    p.add_argument("--resize", choices=RESIZE_MODES, default=defaults["resize_mode"],
                   help="how non-square images become squares")
    p.add_argument("--preview", default=None, help="final before/after PNG (default: OUTPUT with .png)")
    cli.add_common_args(p, defaults,
                        dry_run_help=f"{DRY_RUN_IMAGES} images per domain, {DRY_RUN_STEPS} steps per epoch")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return cli.train_main(args, "cyclegan", config=lambda: _config(args),
                          read=lambda cfg: _image_sets(args, cfg), read_errors=(ImageZipError,),
                          train=lambda cfg, ab, progress, **kw: train(cfg, ab[0], ab[1], progress, **kw),
                          outputs=cli.Outputs("A -> B generator", cli.picture_path(args.preview, args.output),
                                              "A, G_A(A), B, G_B(B)", loss_format=".3g"))


def _config(args: argparse.Namespace) -> TrainConfig:
    # A dry run trains one epoch of each kind unless told otherwise, so the lr decay runs too.
    epochs = (args.epochs if args.epochs is not None
              else DRY_RUN_EPOCHS if args.dry_run else TrainConfig.epochs)
    epochs_decay = (args.epochs_decay if args.epochs_decay is not None
                    else DRY_RUN_EPOCHS if args.dry_run else TrainConfig.epochs_decay)
    return TrainConfig(image_size=args.size, load_size=args.load_size, n_blocks=args.n_blocks, ngf=args.ngf,
                       ndf=args.ndf, epochs=epochs, epochs_decay=epochs_decay, batch_size=args.batch_size,
                       lr=args.lr, seed=args.seed, sample_every=args.sample_every,
                       checkpoint_every=args.checkpoint_every, resize_mode=args.resize, dry_run=args.dry_run)


def _image_sets(args: argparse.Namespace, cfg: TrainConfig) -> tuple[list[Image.Image], list[Image.Image]]:
    sets = []
    for domain, where in (("A", args.images_a), ("B", args.images_b)):
        try:
            images = cli.read_image_set(where, cfg.load_size, cfg.resize_mode)  # its load square
        except ImageZipError as exc:
            raise ImageZipError(f"domain {domain} ({where}): {exc}") from exc
        print(f"domain {domain}: {len(images)} images from {where}")
        sets.append(images)
    return sets[0], sets[1]


if __name__ == "__main__":
    sys.exit(main())
