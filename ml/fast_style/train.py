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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from ml.common import training_cli as cli
from ml.common.bundled_images import BundledImagesMissing, bundled_photos
from ml.common.image_zip import ImageZipError, prepare_image
from ml.common.images import ImageError, load_image
from ml.common.progress import Progress
from ml.common.training import TrainResult
from ml.fast_style.config import DRY_RUN_BATCH, DRY_RUN_SIZE, DRY_RUN_STEPS, TrainConfig
from ml.fast_style.data import photo_side
from ml.fast_style.training import LAYERS, train
from ml.features.formats import import_feature_network
from ml.features.infer import load as load_features
from ml.features.model import FeatureNet


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p, defaults = cli.training_parser("ml.fast_style.train", __doc__, TrainConfig)
    p.add_argument("style", help="the style image")
    p.add_argument("--features", required=True,
                   help="the loss network: style-features checkpoint, EfficientNet-Lite0 or VGG19 weights")
    p.add_argument("--content", default=None,
                   help="a zip or folder of content photos (default: scikit-image's sample photos)")
    p.add_argument("-o", "--output", default="fast-style.pt", help="the trained network (studio checkpoint)")
    p.add_argument("--name", default=None, help="the style's name in the checkpoint (default: STYLE's stem)")
    cli.add_numbers(p, defaults, int, "steps")
    p.add_argument("--size", type=int, default=defaults["image_size"], help="training crop side in pixels")
    p.add_argument("--style-size", type=int, default=defaults["style_size"],
                   help="longer side of the style image, in pixels")
    cli.add_numbers(p, defaults, int, "batch_size")
    cli.add_numbers(p, defaults, float, "lr", "content_weight", "style_weight", "tv_weight")
    p.add_argument("--preview", default=None,
                   help="final before/after preview PNG (default: OUTPUT with .png)")
    cli.add_common_args(p, defaults,
                        dry_run_help=f"{DRY_RUN_SIZE} px, batch {DRY_RUN_BATCH}, {DRY_RUN_STEPS} steps")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    name = args.name or Path(args.style).stem
    return cli.train_main(args, "fast-style", config=lambda: _config(args, name),
                          read=lambda cfg: _inputs(args, cfg),
                          read_errors=(ImageError, ImageZipError, BundledImagesMissing, OSError, ValueError),
                          train=_train,
                          outputs=cli.Outputs(f"style {name!r}", cli.picture_path(args.preview, args.output),
                                              "before/after", loss_format=".4g"))


def _config(args: argparse.Namespace, name: str) -> TrainConfig:
    return TrainConfig(style_name=name, image_size=args.size, style_size=args.style_size, steps=args.steps,
                       batch_size=args.batch_size, lr=args.lr, content_weight=args.content_weight,
                       style_weight=args.style_weight, tv_weight=args.tv_weight, seed=args.seed,
                       sample_every=args.sample_every, checkpoint_every=args.checkpoint_every,
                       dry_run=args.dry_run)


@dataclass
class _Inputs:
    style: Image.Image
    content: list[Image.Image]
    features: FeatureNet
    features_sha256: str  # of the file the catalog would hold


def _inputs(args: argparse.Namespace, cfg: TrainConfig) -> _Inputs:
    """The style, the content photos and the loss network (a CheckpointError is a ValueError)."""
    style = load_image(args.style)
    content = _content(args.content, cfg)
    features_sha256 = hashlib.sha256(Path(args.features).read_bytes()).hexdigest()
    features, network = load_features(import_feature_network(args.features), LAYERS)
    print(f"{len(content)} content photos from {args.content or 'scikit-image'}; loss network {network}")
    return _Inputs(style, content, features, features_sha256)


def _train(cfg: TrainConfig, inputs: _Inputs, progress: Progress, /, **kw: Any) -> TrainResult:
    result = train(cfg, inputs.style, inputs.content, inputs.features, progress, **kw)
    result.checkpoint["extra"]["features"]["sha256"] = inputs.features_sha256
    return result


def _content(source: str | None, cfg: TrainConfig) -> list[Image.Image]:
    """The content photos, each made a square of the side training keeps as it is decoded (one
    full-size photo in memory at a time); warnings about skipped files go to stderr."""
    side = photo_side(cfg.image_size)
    if source is None:
        return [prepare_image(img, side) for img in bundled_photos()]
    return cli.read_image_set(source, side)


if __name__ == "__main__":
    sys.exit(main())
