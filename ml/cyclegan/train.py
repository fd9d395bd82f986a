"""Command line for CycleGAN training (the training itself is ml/cyclegan/training.py):

    python -m ml.cyclegan.train A.zip|FOLDER B.zip|FOLDER -o a2b.pt [--epochs 100 --epochs-decay 100]
        [--size 256 --n-blocks 9] [--resume] [--dry-run]

The output is the A -> B generator as a studio "cyclegan" checkpoint (the B -> A one rides along in
its extra["generator_b2a"]), ready for the catalog or ``python -m ml.cyclegan.translate --checkpoint``.
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

from ml.common.image_zip import RESIZE_MODES, ImageZipError, prepare_image, read_images
from ml.common.progress import Cancelled
from ml.common.terminal import StoppableProgress
from ml.cyclegan.training import DRY_RUN_IMAGES, DRY_RUN_STEPS, TrainConfig, TrainError, train

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
    p.add_argument("--seed", type=int, default=defaults["seed"])
    p.add_argument("--resize", choices=RESIZE_MODES, default=defaults["resize_mode"],
                   help="how non-square images become squares")
    p.add_argument("--sample-every", type=int, default=defaults["sample_every"])
    p.add_argument("--checkpoint-every", type=int, default=defaults["checkpoint_every"])
    p.add_argument("--state", default=None,
                   help="training checkpoint (default: OUTPUT with .train.pt); --resume continues it")
    p.add_argument("--resume", action="store_true", help="continue from --state if it exists")
    p.add_argument("--preview", default=None, help="final before/after PNG (default: OUTPUT with .png)")
    p.add_argument("--dry-run", action="store_true",
                   help=f"{DRY_RUN_IMAGES} images per domain, {DRY_RUN_STEPS} steps per epoch")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.output)
    state = Path(args.state) if args.state else out.with_suffix(".train.pt")
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
            found = read_images(where, transform=partial(prepare_image, size=cfg.load_size,
                                                         mode=cfg.resize_mode))
        except ImageZipError as exc:
            print(f"error: domain {domain} ({where}): {exc}", file=sys.stderr)
            return 1
        for warning in found.warnings[:10]:
            print(f"skipped {warning}", file=sys.stderr)
        if len(found.warnings) > 10:
            print(f"... and {len(found.warnings) - 10} more skipped", file=sys.stderr)
        print(f"domain {domain}: {len(found.images)} images from {where}")
        sets.append(found.images)

    progress = StoppableProgress("cyclegan")
    started = time.monotonic()
    try:
        result = train(cfg, sets[0], sets[1], progress, checkpoint_path=state, resume=args.resume,
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
    result.preview.save(preview_path)
    losses = ", ".join(f"{k} {v:.3g}" for k, v in result.final.items())
    print(f"trained steps {result.resumed_from}-{result.step} of {result.total_steps} in "
          f"{time.monotonic() - started:.0f} s ({losses})")
    print(f"wrote {out} (A -> B generator), {preview_path} (A, G_A(A), B, G_B(B)), {state} (training state)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
