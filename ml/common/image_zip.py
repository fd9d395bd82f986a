"""Images from a user's uploaded zip (or, for the command line, a folder), read without trusting it.

What a zip can do to a worker, and what stops it here, before anything is decoded:
- claim sizes it does not have: only the zip's directory is read first, every read is bounded by the
  size the directory claims (zipfile stops there, and a CRC mismatch fails the file);
- unpack to far more than it holds (a "zip bomb": deflate shrinks zeros about 1000:1): a file with an
  unpacked/packed ratio over ``max_ratio`` refuses the whole upload, so does a total over
  ``max_total_bytes``;
- hold a huge number of tiny files: more than ``max_files`` refuses the upload from the directory
  alone;
- hold images that decode to gigabytes: ``ml.common.images.load_image`` checks each header against
  ``max_pixels``, and ``max_total_pixels`` caps what is kept in memory in all.

Directories, ``__MACOSX/`` (the resource forks macOS adds), hidden files (``.DS_Store``, ``._x.png``)
and Windows' ``Thumbs.db`` / ``desktop.ini`` are skipped without a word. Any other file that is not a
usable image is skipped and named in ``ImageSet.warnings``; only a zip with no usable image at all
is an error. Nothing is ever written to disk, so names like ``../../x`` are just names.

Images come back at their own sizes. Pass ``transform`` (e.g. ``functools.partial(prepare_image,
size=64)``) to shrink each one as it is decoded: then only one full-size image is in memory at a time.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from PIL import Image, ImageOps

from ml.common.images import ImageError, load_image

ZipSource = str | os.PathLike[str] | bytes | IO[bytes]
Transform = Callable[[Image.Image], Image.Image]

RESIZE_MODES = ("center-crop", "pad", "stretch")
JUNK_NAMES = frozenset({"thumbs.db", "desktop.ini", "__macosx"})
# A high ratio alone is no threat: a small flat-colour BMP packs 500:1 and unpacks to nothing much.
RATIO_MIN_BYTES = 1_000_000


class ImageZipError(ValueError):
    """The upload as a whole cannot be used; the message is fit to show the user."""


@dataclass(frozen=True)
class ZipLimits:
    """What one upload may hold. The defaults suit a training set of a few thousand photos."""

    max_files: int = 5_000  # files that could be images (skipped junk is not counted)
    max_total_bytes: int = 500_000_000  # all those files unpacked
    max_file_bytes: int = 50_000_000  # one file unpacked; larger ones are skipped with a warning
    max_ratio: float = 100.0  # unpacked / packed size of one file; more is treated as a zip bomb
    max_pixels: int = 40_000_000  # one image, from its header (ml.common.images.load_image)
    max_total_pixels: int = 250_000_000  # all images as kept (after ``transform``): ~750 MB of RGB


@dataclass
class ImageSet:
    images: list[Image.Image]  # RGB, in name order
    names: list[str]  # the file each image came from (its path inside the zip or folder)
    warnings: list[str] = field(default_factory=list)  # "name: why it was skipped", one per file


@dataclass
class _Entry:
    name: str
    size: int  # unpacked bytes, as claimed
    packed: int | None  # bytes in the zip (None for a folder)
    read: Callable[[int], bytes]  # read at most n bytes
    encrypted: bool = False


def read_image_zip(src: ZipSource, *, limits: ZipLimits | None = None,
                   transform: Transform | None = None, max_images: int | None = None) -> ImageSet:
    """Every usable image in the zip ``src`` (path, bytes or binary file object), or the first
    ``max_images`` of them (a check of an upload needs one: the refusals come first either way).

    Raises ImageZipError for a file that is not a zip, an empty zip, too many files, a zip bomb, too
    much data in all, or a zip in which no file is an image.
    """
    limits = limits or ZipLimits()
    fh: IO[bytes]
    if isinstance(src, bytes):
        fh = io.BytesIO(src)
    elif isinstance(src, (str, os.PathLike)):
        try:
            fh = open(src, "rb")  # closed in the finally below, once the zip is read
        except OSError as exc:
            raise ImageZipError(f"cannot read the zip file: {exc.strerror or exc}") from exc
    else:
        fh = src
    try:
        try:
            archive = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            # An empty upload, a renamed folder, a .rar, a zip cut off in transfer: all look the same.
            raise ImageZipError("not a zip file") from exc
        with archive:
            try:
                infos = archive.infolist()
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise ImageZipError("not a zip file (its directory is damaged)") from exc
            entries = [_zip_entry(archive, info) for info in infos if not _skipped_zip_member(info)]
            return _read_entries(entries, limits, transform, what="zip", max_images=max_images)
    finally:
        if isinstance(src, (str, os.PathLike)):
            fh.close()


def read_image_folder(path: str | os.PathLike[str], *, limits: ZipLimits | None = None,
                      transform: Transform | None = None) -> ImageSet:
    """Every usable image under the folder ``path`` (recursively), with the same limits and skips as
    a zip. Symbolic links to folders are not followed."""
    root = Path(path)
    if not root.is_dir():
        raise ImageZipError(f"not a folder: {root}")
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _junk(d))  # prunes the walk as well
        for filename in sorted(filenames):
            full = Path(dirpath) / filename
            if _junk(filename) or not full.is_file():
                continue
            entries.append(_Entry(name=full.relative_to(root).as_posix(), size=full.stat().st_size,
                                  packed=None, read=_file_reader(full)))
    return _read_entries(entries, limits or ZipLimits(), transform, what="folder")


def read_images(path: str | os.PathLike[str], *, limits: ZipLimits | None = None,
                transform: Transform | None = None) -> ImageSet:
    """A folder or a zip, whichever ``path`` is (for command lines that take either)."""
    if Path(path).is_dir():
        return read_image_folder(path, limits=limits, transform=transform)
    return read_image_zip(path, limits=limits, transform=transform)


def prepare_image(img: Image.Image, size: int, mode: str = "center-crop") -> Image.Image:
    """One image as a ``size`` x ``size`` RGB square, whatever its own shape.

    - "center-crop" (default): the largest centred square, scaled to ``size``. Nothing is distorted;
      the ends of a long side are lost (a 3000x20 strip keeps its middle 20x20).
    - "pad": the whole image scaled to fit, centred on black bars. Nothing is lost, but a generator
      trained on it learns to draw the bars too.
    - "stretch": the whole image squashed to a square; shapes come out distorted.

    Downscaling uses a high-quality filter (antialiased), upscaling of tiny images is smooth.
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    img = img.convert("RGB")
    target = (size, size)
    resample = Image.Resampling.LANCZOS
    if mode == "center-crop":
        return ImageOps.fit(img, target, method=resample)  # crops first: a 9 MP photo is not resized whole
    if mode == "pad":
        # Not ImageOps.pad: it scales a 3000x20 strip to a height of 0 and fails.
        scale = size / max(img.size)
        inner = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                           resample, reducing_gap=3.0)
        out = Image.new("RGB", target, (0, 0, 0))
        out.paste(inner, ((size - inner.width) // 2, (size - inner.height) // 2))
        return out
    if mode == "stretch":
        return img.resize(target, resample, reducing_gap=3.0)
    raise ValueError(f"unknown resize mode {mode!r} (choose from {', '.join(RESIZE_MODES)})")


def prepare(images: Sequence[Image.Image], size: int, mode: str = "center-crop") -> list[Image.Image]:
    """Every image as a ``size`` x ``size`` square; see ``prepare_image`` for the modes."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {mode!r} (choose from {', '.join(RESIZE_MODES)})")
    return [prepare_image(img, size, mode) for img in images]


# --- the checks, shared by zips and folders ---------------------------------------------------------


def _read_entries(entries: list[_Entry], limits: ZipLimits, transform: Transform | None,
                  what: str, max_images: int | None = None) -> ImageSet:
    # Everything that can refuse the upload from sizes alone comes before the first decode.
    if not entries:
        raise ImageZipError(f"empty {what}: no images found")
    if len(entries) > limits.max_files:
        raise ImageZipError(f"too many files: {len(entries):,} (limit {limits.max_files:,})")
    for entry in entries:
        if entry.packed is not None and entry.size >= RATIO_MIN_BYTES:
            ratio = entry.size / max(entry.packed, 1)
            if ratio > limits.max_ratio:
                raise ImageZipError(f"zip bomb: {_shown(entry.name)} would unpack to {entry.size:,} bytes "
                                    f"(ratio {ratio:,.0f}:1, limit {limits.max_ratio:,.0f}:1)")
    total = sum(e.size for e in entries)
    if total > limits.max_total_bytes:
        raise ImageZipError(f"too large: the files would unpack to {total:,} bytes "
                            f"(limit {limits.max_total_bytes:,})")

    result = ImageSet(images=[], names=[])
    pixels = 0
    for entry in sorted(entries, key=lambda e: e.name):
        try:
            img = _decode(entry, limits)
        except ImageError as exc:
            result.warnings.append(f"{_shown(entry.name)}: {exc}")
            continue
        if transform is not None:
            img = transform(img)
        pixels += img.width * img.height
        if pixels > limits.max_total_pixels:
            raise ImageZipError(f"too many pixels: the images so far hold {pixels / 1e6:,.0f} MP (limit "
                                f"{limits.max_total_pixels / 1e6:,.0f} MP); use fewer or smaller images")
        result.images.append(img)
        result.names.append(entry.name)
        if max_images is not None and len(result.images) >= max_images:
            break
    if not result.images:
        count = len(entries)
        first = result.warnings[0]
        if count == 1:
            raise ImageZipError(f"the only file is not an image ({first})")
        raise ImageZipError(f"none of the {count:,} files is an image (first: {first})")
    return result


def _decode(entry: _Entry, limits: ZipLimits) -> Image.Image:
    """The entry as an RGB image, or ImageError saying why not (in words for the user)."""
    if entry.encrypted:
        raise ImageError("encrypted (password-protected zip entries are not read)")
    if entry.size > limits.max_file_bytes:
        raise ImageError(f"file too large: {entry.size:,} bytes (limit {limits.max_file_bytes:,})")
    try:
        data = entry.read(limits.max_file_bytes + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ImageError("damaged inside the zip (it does not unpack cleanly)") from exc
    except NotImplementedError as exc:  # e.g. deflate64, which Python's zipfile cannot unpack
        raise ImageError("packed with a compression method that cannot be read") from exc
    except OSError as exc:
        raise ImageError(f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > limits.max_file_bytes:  # the claimed size lied (folders: the file grew)
        raise ImageError(f"file too large: more than {limits.max_file_bytes:,} bytes")
    return load_image(data, max_bytes=limits.max_file_bytes, max_pixels=limits.max_pixels)


def _zip_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Entry:
    def read(n: int) -> bytes:
        # zipfile never returns more than the directory's file_size, and checks the CRC at the end.
        with archive.open(info) as member:
            return member.read(n)

    return _Entry(name=info.filename, size=info.file_size, packed=info.compress_size, read=read,
                  encrypted=bool(info.flag_bits & 0x1))


def _file_reader(path: Path) -> Callable[[int], bytes]:
    def read(n: int) -> bytes:
        with open(path, "rb") as fh:
            return fh.read(n)

    return read


def _skipped_zip_member(info: zipfile.ZipInfo) -> bool:
    if info.is_dir():
        return True
    if stat.S_ISLNK(info.external_attr >> 16):  # a symlink's "content" is its target path
        return True
    return any(_junk(part) for part in _parts(info.filename))


def _parts(name: str) -> Iterator[str]:
    return (part for part in name.replace("\\", "/").split("/") if part)


def _junk(name: str) -> bool:
    """Hidden files and folders, and what macOS and Windows add to archives on their own."""
    return name.startswith(".") or name.lower() in JUNK_NAMES


def _shown(name: str, limit: int = 80) -> str:
    """A file name as it may appear in a message: no control characters, not too long."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in name)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
