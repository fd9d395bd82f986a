"""Command line for fast-style training (the training itself is ml/fast_style/training.py):

    python -m ml.fast_style.train STYLE.jpg --features FEATURES.pt -o out.pt --steps 2000 [--resume]

FEATURES.pt is the loss network: a style-features studio checkpoint, or the public EfficientNet-Lite0
or torchvision VGG19 weights. The content photos are a zip or folder (--content), by default
scikit-image's sample photos. The result is a fast-style studio checkpoint for the catalog or
``python -m ml.fast_style.predict --checkpoint out.pt``.
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
from ml.common.image_zip import ImageZipError, prepare_image
from ml.common.images import ImageError, load_image
from ml.common.training_cli import add_common_args, read_image_set, run_training, state_path, trained_summary
from ml.fast_style.config import DRY_RUN_BATCH, DRY_RUN_SIZE, DRY_RUN_STEPS, TrainConfig
from ml.fast_style.data import photo_side
from ml.fast_style.training import LAYERS, train
from ml.features.formats import import_feature_network
from ml.features.infer import load as load_features


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ml.fast_style.train", description=__doc__,
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
    p.add_argument("--preview", default=None,
                   help="final before/after preview PNG (default: OUTPUT with .png)")
    add_common_args(p, defaults,
                    dry_run_help=f"{DRY_RUN_SIZE} px, batch {DRY_RUN_BATCH}, {DRY_RUN_STEPS} steps")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.output)
    state = state_path(args)
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
        features, network = load_features(import_feature_network(args.features), LAYERS)
    except (ImageError, ImageZipError, BundledImagesMissing, OSError, ValueError) as exc:
        # CheckpointError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(content)} content photos from {args.content or 'scikit-image'}; loss network {network}")

    started = time.monotonic()
    result = run_training("fast-style", state, lambda progress: train(
        cfg, style, content, features, progress, checkpoint_path=state, resume=args.resume,
        device=args.device))
    if isinstance(result, int):
        return result
    result.checkpoint["extra"]["features"]["sha256"] = features_sha256  # the file the catalog would hold
    torch.save(result.checkpoint, out)
    result.preview.save(preview_path)
    print(trained_summary(result, started, ".4g"))
    print(f"wrote {out} (style {cfg.style_name!r}), {preview_path} (before/after), {state} (training state)")
    return 0


def _content(source: str | None, cfg: TrainConfig) -> list[Image.Image]:
    """The content photos, each made a square of the side training keeps as it is decoded (one
    full-size photo in memory at a time); warnings about skipped files go to stderr."""
    shrink = partial(prepare_image, size=photo_side(cfg.image_size))
    if source is None:
        return [shrink(img) for img in bundled_photos()]
    return read_image_set(source, shrink)


if __name__ == "__main__":
    sys.exit(main())
