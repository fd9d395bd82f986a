"""Small training sets as zips, from data that installs from the package registries, to try the
training tools without data of your own:

    # Fashion-MNIST from the Debian package (apt-get download dataset-fashion-mnist; dpkg-deb -x ...)
    python scripts/training_sets.py fashion-mnist .../train-images-idx3-ubyte.gz -o fashion.zip --n 3000
    # Two CycleGAN domains: crops of scikit-image's photos (A) and the same kind of crops in sepia (B)
    python scripts/training_sets.py sepia -o photos.zip sepia.zip --n 200 --size 128
"""

from __future__ import annotations

import argparse
import gzip
import io
import random
import struct
import sys
import zipfile
from pathlib import Path

from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file from anywhere

from ml.common.bundled_images import COLOUR_PHOTOS, bundled_photos  # noqa: E402


def read_idx_images(path: Path) -> list[Image.Image]:
    """The images of an IDX3 file (MNIST layout: magic 2051, count, rows, cols, then bytes)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    magic, count, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051:
        raise SystemExit(f"{path} is not an IDX3 image file (magic {magic})")
    size = rows * cols
    return [Image.frombytes("L", (cols, rows), data[16 + i * size:16 + (i + 1) * size]) for i in range(count)]


def write_zip(path: Path, images: list[Image.Image], prefix: str) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i, img in enumerate(images):
            buffer = io.BytesIO()
            img.convert("RGB").save(buffer, format="PNG")
            archive.writestr(f"{prefix}/{i:05d}.png", buffer.getvalue())
    print(f"wrote {path}: {len(images)} images, {path.stat().st_size / 1e6:.1f} MB")


def random_crops(n: int, size: int, rng: random.Random) -> list[Image.Image]:
    """Square crops (a third to all of the short side, scaled to ``size``) of the colour photos."""
    photos = bundled_photos(COLOUR_PHOTOS, max_side=512)
    crops = []
    for _ in range(n):
        photo = rng.choice(photos)
        side = rng.randint(min(photo.size) // 3, min(photo.size))
        x, y = rng.randint(0, photo.width - side), rng.randint(0, photo.height - side)
        crop = photo.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.LANCZOS)
        crops.append(ImageOps.mirror(crop) if rng.random() < 0.5 else crop)
    return crops


def sepia(img: Image.Image) -> Image.Image:
    return ImageOps.colorize(ImageOps.grayscale(img), black="#2b1a0e", mid="#a0714a", white="#fff0d0")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="set", required=True)
    fm = sub.add_parser("fashion-mnist", help="Fashion-MNIST images from an IDX3 file")
    fm.add_argument("idx", type=Path)
    fm.add_argument("-o", "--output", type=Path, default=Path("fashion-mnist.zip"))
    fm.add_argument("--n", type=int, default=3000, help="how many (the first N)")
    fm.add_argument("--labels", type=Path, default=None,
                    help="the matching labels IDX1 file, to keep one class only (with --class)")
    fm.add_argument("--class", dest="cls", type=int, default=None, help="0 T-shirt ... 9 ankle boot")
    sp = sub.add_parser("sepia", help="photo crops (domain A) and sepia photo crops (domain B)")
    sp.add_argument("-o", "--output", type=Path, nargs=2, default=[Path("photos.zip"), Path("sepia.zip")])
    sp.add_argument("--n", type=int, default=200, help="images per domain")
    sp.add_argument("--size", type=int, default=128)
    sp.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    if args.set == "fashion-mnist":
        images = read_idx_images(args.idx)
        if args.cls is not None:
            if args.labels is None:
                raise SystemExit("--class needs --labels")
            opener = gzip.open if args.labels.suffix == ".gz" else open
            with opener(args.labels, "rb") as fh:
                labels = fh.read()[8:]
            images = [img for img, label in zip(images, labels, strict=True) if label == args.cls]
        write_zip(args.output, images[:args.n], "fashion-mnist")
    else:
        rng = random.Random(args.seed)
        # Unpaired, as CycleGAN expects: the two domains get different crops.
        write_zip(args.output[0], random_crops(args.n, args.size, rng), "photos")
        write_zip(args.output[1], [sepia(c) for c in random_crops(args.n, args.size, rng)], "sepia")
    return 0


if __name__ == "__main__":
    sys.exit(main())
