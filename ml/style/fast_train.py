"""Command line for fast-style training (the training itself is ml/style/fast_training.py):

    python -m ml.style.fast_train STYLE.jpg --features FEATURES.pt -o out.pt --steps 2000 [--resume]

FEATURES.pt is the loss network: a style-features studio checkpoint, or the public EfficientNet-Lite0
or torchvision VGG19 weights. The content photos are a zip or folder (--content), by default
scikit-image's sample photos. The result is a fast-style studio checkpoint for the catalog or
``python -m ml.style.fast_stylize --checkpoint out.pt``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import fields
from functools import partial
from pathlib import Path

import torch
from PIL import Image

from ml.common.bundled_images import BundledImagesMissing, bundled_photos
from ml.common.image_zip import ImageZipError, prepare_image, read_images
from ml.common.images import ImageError, load_image
from ml.common.progress import Cancelled
from ml.common.terminal import StoppableProgress
from ml.style.fast_training import (
    DRY_RUN_BATCH,
    DRY_RUN_SIZE,
    DRY_RUN_STEPS,
    LAYERS,
    TrainConfig,
    TrainError,
    photo_side,
    train,
)
from ml.style.feature_formats import import_feature_network
from ml.style.features import feature_net_from_checkpoint


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ml.style.fast_train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    p.add_argument("style", help="the style image")
    p.add_argument("--features", required=True,
                   help="the loss network: style-features checkpoint, EfficientNet-Lite0 or VGG19 weights")
    p.add_argument("--content", default=None,
                   help="a zip or folder of content photos (default: scikit-image's sample photos)")
    p.add_argument("-o", "--output", default="fast-style.pt", help="the trained network (studio checkpoint)")
    p.add_argument("--name", default=None, help="the style's name in the checkpoint (default: STYLE's stem)")
    p.add_argument("--steps", type=int, default=defaults["steps"])
    p.add_argument("--size", type=int, default=defaults["image_size"], help="training crop side in pixels")
    p.add_argument("--style-size", type=int, default=defaults["style_size"],
                   help="longer side of the style image, in pixels")
    p.add_argument("--batch-size", type=int, default=defaults["batch_size"])
    p.add_argument("--lr", type=float, default=defaults["lr"])
    p.add_argument("--content-weight", type=float, default=defaults["content_weight"])
    p.add_argument("--style-weight", type=float, default=defaults["style_weight"])
    p.add_argument("--tv-weight", type=float, default=defaults["tv_weight"])
    p.add_argument("--seed", type=int, default=defaults["seed"])
    p.add_argument("--sample-every", type=int, default=defaults["sample_every"])
    p.add_argument("--checkpoint-every", type=int, default=defaults["checkpoint_every"])
    p.add_argument("--state", default=None,
                   help="training checkpoint (default: OUTPUT with .train.pt); --resume continues it")
    p.add_argument("--resume", action="store_true", help="continue from --state if it exists")
    p.add_argument("--preview", default=None,
                   help="final before/after preview PNG (default: OUTPUT with .png)")
    p.add_argument("--dry-run", action="store_true",
                   help=f"{DRY_RUN_SIZE} px, batch {DRY_RUN_BATCH}, {DRY_RUN_STEPS} steps")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.output)
    state = Path(args.state) if args.state else out.with_suffix(".train.pt")
    preview_path = Path(args.preview) if args.preview else out.with_suffix(".png")
    try:
        cfg = TrainConfig(style_name=args.name or Path(args.style).stem, image_size=args.size,
                          style_size=args.style_size, steps=args.steps, batch_size=args.batch_size,
                          lr=args.lr, content_weight=args.content_weight, style_weight=args.style_weight,
                          tv_weight=args.tv_weight, seed=args.seed, sample_every=args.sample_every,
                          checkpoint_every=args.checkpoint_every, dry_run=args.dry_run)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        style = load_image(args.style)
        content = _content(args.content, cfg)
        features_sha256 = hashlib.sha256(Path(args.features).read_bytes()).hexdigest()
        features, network = feature_net_from_checkpoint(import_feature_network(args.features), LAYERS)
    except (ImageError, ImageZipError, BundledImagesMissing, OSError, ValueError) as exc:
        # CheckpointError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(content)} content photos from {args.content or 'scikit-image'}; loss network {network}")

    progress = StoppableProgress("fast-style")
    started = time.monotonic()
    try:
        result = train(cfg, style, content, features, progress, checkpoint_path=state, resume=args.resume,
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
    result.checkpoint["extra"]["features"]["sha256"] = features_sha256  # the file the catalog would hold
    torch.save(result.checkpoint, out)
    result.preview.save(preview_path)
    losses = ", ".join(f"{k} {v:.4g}" for k, v in result.final.items())
    print(f"trained steps {result.resumed_from}-{result.step} of {result.total_steps} in "
          f"{time.monotonic() - started:.0f} s ({losses})")
    print(f"wrote {out} (style {cfg.style_name!r}), {preview_path} (before/after), {state} (training state)")
    return 0


def _content(source: str | None, cfg: TrainConfig) -> list[Image.Image]:
    """The content photos, each made a square of the side training keeps as it is decoded (one
    full-size photo in memory at a time); warnings about skipped files go to stderr."""
    shrink = partial(prepare_image, size=photo_side(cfg.image_size))
    if source is None:
        return [shrink(img) for img in bundled_photos()]
    found = read_images(source, transform=shrink)
    for warning in found.warnings[:10]:
        print(f"skipped {warning}", file=sys.stderr)
    if len(found.warnings) > 10:
        print(f"... and {len(found.warnings) - 10} more skipped", file=sys.stderr)
    return found.images


if __name__ == "__main__":
    sys.exit(main())
