"""Command line: python -m ml.style.predict content.jpg style.jpg -o out.png --steps 200"""

from __future__ import annotations

import argparse
import sys

from PIL import Image

from ml.common.images import ImageError, load_image
from ml.common.terminal import TerminalProgress
from ml.features.infer import load as load_features
from ml.style.config import NETWORKS, OPTIMIZERS, StyleConfig
from ml.style.infer import stylize


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ml.style.predict", description=__doc__)
    p.add_argument("content")
    p.add_argument("style")
    p.add_argument("-o", "--output", default="stylized.png")
    d = StyleConfig()
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--size", type=int, default=d.max_side, help="longest output side in pixels")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer)
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate (0..1 pixel space)")
    p.add_argument("--network", choices=NETWORKS, default=d.network)
    p.add_argument("--checkpoint", default=None,
                   help="a studio style-features checkpoint (e.g. a catalog version's file); "
                        "overrides --network")
    p.add_argument("--style-weight", type=float, default=d.style_weight)
    p.add_argument("--content-weight", type=float, default=d.content_weight)
    p.add_argument("--tv-weight", type=float, default=d.tv_weight)
    p.add_argument("--init", choices=("content", "noise"), default=d.init)
    p.add_argument("--scales", default=",".join(str(s) for s in d.scales), help="e.g. 0.5,1.0")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = StyleConfig(
        steps=args.steps,
        max_side=args.size,
        optimizer=args.optimizer,
        lr=args.lr,
        network=args.network,
        style_weight=args.style_weight,
        content_weight=args.content_weight,
        tv_weight=args.tv_weight,
        init=args.init,
        seed=args.seed,
        scales=tuple(float(s) for s in args.scales.split(",")),
    )
    try:
        cfg.validate()
        content, style = _picture(args.content, "content"), _picture(args.style, "style")
        features = load_features(args.checkpoint) if args.checkpoint else None
    except ValueError as exc:  # ImageError and CheckpointError are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bar = TerminalProgress("stylize")
    try:
        result = stylize(cfg, content, style, progress=bar, device=args.device, features=features)
    finally:
        bar.close()
    result.image.save(args.output)
    losses = ", ".join(f"{k} {v:.4g}" for k, v in result.losses.items())
    print(f"network: {result.network}")
    print(f"final loss: {losses}")
    print(f"{result.steps_done} steps in {result.seconds:.1f} s -> {args.output}")
    return 0


def _picture(path: str, role: str) -> Image.Image:
    """The image at ``path``; an ImageError names which of the two pictures it is about."""
    try:
        return load_image(path)
    except ImageError as exc:
        raise ImageError(f"{role} image {path}: {exc}") from exc


if __name__ == "__main__":
    sys.exit(main())
