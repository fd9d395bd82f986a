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
import time
from dataclasses import fields
from functools import partial
from pathlib import Path

import torch
from PIL import Image

from ml.common.image_zip import RESIZE_MODES, ImageZipError, prepare_image
from ml.common.training_cli import add_common_args, read_image_set, run_training, state_path, trained_summary
from ml.cyclegan.config import DRY_RUN_IMAGES, DRY_RUN_STEPS, TrainConfig
from ml.cyclegan.training import train

DRY_RUN_EPOCHS = 1  # --dry-run without --epochs / --epochs-decay: one of each, so the decay runs too


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ml.cyclegan.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = {f.name: f.default for f in fields(TrainConfig)}
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
    p.add_argument("--ngf", type=int, default=defaults["ngf"])
    p.add_argument("--ndf", type=int, default=defaults["ndf"])
    p.add_argument("--batch-size", type=int, default=defaults["batch_size"])
    p.add_argument("--lr", type=float, default=defaults["lr"])
    p.add_argument("--resize", choices=RESIZE_MODES, default=defaults["resize_mode"],
                   help="how non-square images become squares")
    p.add_argument("--preview", default=None, help="final before/after PNG (default: OUTPUT with .png)")
    add_common_args(p, defaults,
                    dry_run_help=f"{DRY_RUN_IMAGES} images per domain, {DRY_RUN_STEPS} steps per epoch")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.output)
    state = state_path(args)
    preview_path = Path(args.preview) if args.preview else out.with_suffix(".png")
    # A dry run trains one epoch of each kind unless told otherwise, so the lr decay runs too.
    epochs = (args.epochs if args.epochs is not None
              else DRY_RUN_EPOCHS if args.dry_run else TrainConfig.epochs)
    epochs_decay = (args.epochs_decay if args.epochs_decay is not None
                    else DRY_RUN_EPOCHS if args.dry_run else TrainConfig.epochs_decay)
    try:
        cfg = TrainConfig(image_size=args.size, load_size=args.load_size, n_blocks=args.n_blocks,
                          ngf=args.ngf, ndf=args.ndf, epochs=epochs, epochs_decay=epochs_decay,
                          batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          sample_every=args.sample_every, checkpoint_every=args.checkpoint_every,
                          resize_mode=args.resize, dry_run=args.dry_run)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sets: list[list[Image.Image]] = []
    for domain, where in (("A", args.images_a), ("B", args.images_b)):
        try:
            # Each image is scaled to its load square as it is decoded: one full-size photo in memory.
            images = read_image_set(where, partial(prepare_image, size=cfg.load_size, mode=cfg.resize_mode))
        except ImageZipError as exc:
            print(f"error: domain {domain} ({where}): {exc}", file=sys.stderr)
            return 1
        print(f"domain {domain}: {len(images)} images from {where}")
        sets.append(images)

    started = time.monotonic()
    result = run_training("cyclegan", state, lambda progress: train(
        cfg, sets[0], sets[1], progress, checkpoint_path=state, resume=args.resume, device=args.device))
    if isinstance(result, int):
        return result
    torch.save(result.checkpoint, out)
    result.preview.save(preview_path)
    print(trained_summary(result, started, ".3g"))
    print(f"wrote {out} (A -> B generator), {preview_path} (A, G_A(A), B, G_B(B)), {state} (training state)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
