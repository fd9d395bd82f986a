"""Safe image loading and tensor conversion for every ml entry point.

Uploads are untrusted: size is checked from the header before any pixel is decoded (a tiny PNG can
claim 30000x30000 and eat gigabytes), the full decode is forced so truncation surfaces here and not
halfway through a job, and EXIF orientation is applied so phone photos are upright.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from typing import IO, TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    import torch

ImageSource = str | os.PathLike[str] | bytes | IO[bytes]


class ImageError(ValueError):
    """An input could not be used as an image; the message is fit to show a user."""


def _read_bytes(src: ImageSource, max_bytes: int) -> bytes:
    if isinstance(src, bytes):
        data = src
    elif isinstance(src, (str, os.PathLike)):
        try:
            size = os.path.getsize(src)
            if size > max_bytes:
                raise ImageError(f"file too large: {size:,} bytes (limit {max_bytes:,})")
            with open(src, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise ImageError(f"cannot read image file: {exc.strerror or exc}") from exc
    else:
        data = src.read(max_bytes + 1)  # one extra byte tells us it was over the limit
    if len(data) > max_bytes:
        raise ImageError(f"file too large: more than {max_bytes:,} bytes")
    if not data:
        raise ImageError("not an image: the file is empty")
    return data


def load_image(src: ImageSource, *, max_bytes: int = 50_000_000, max_pixels: int = 40_000_000) -> Image.Image:
    """Decode ``src`` fully into an upright RGB image or raise ImageError with a readable reason."""
    data = _read_bytes(src, max_bytes)
    try:
        with warnings.catch_warnings():
            # Pillow warns (not raises) between its limit and 2x; treat both as refusal.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
            width, height = img.size  # from the header; nothing decoded yet
            if width * height > max_pixels:
                raise ImageError(f"image too large: {width}x{height} pixels (limit {max_pixels / 1e6:g} MP)")
            img.load()  # force the full decode so truncated files fail now
            img = ImageOps.exif_transpose(img)
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageError("not an image (unrecognised file format)") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow refuses before we see the size; its message carries the pixel count.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        count = f"{int(found.group(1)) / 1e6:.0f} MP" if found else "too many pixels"
        raise ImageError(
            f"image too large: {count}, a possible decompression bomb (limit {max_pixels / 1e6:g} MP)"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError("image is truncated or corrupt") from exc
    if img.mode != "RGB":
        # Composite transparency onto white rather than letting it turn black.
        if img.mode in ("RGBA", "LA", "P", "PA") and (img.mode != "P" or "transparency" in img.info):
            rgba = img.convert("RGBA")
            bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(bg, rgba)
        img = img.convert("RGB")
    return img


def resize_max_side(img: Image.Image, max_side: int) -> Image.Image:
    """Scale down (never up) so the longer side is at most ``max_side``, keeping aspect ratio."""
    w, h = img.size
    scale = max_side / max(w, h)
    if scale >= 1:
        return img
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


def image_to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB -> float tensor (1, 3, H, W) in 0..1."""
    import torch  # here, not above: the web process loads images to check uploads, without torch

    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0  # (H, W, 3)
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_image(t: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in 0..1 -> PIL RGB (values outside 0..1 are clipped)."""
    import torch

    if t.dim() == 4:
        t = t[0]
    # One new float tensor, rounded and clipped in place (the same bytes as clamp(0, 1) * 255 then
    # round, in a fifth of the time), and HWC made contiguous by torch rather than by PIL.
    arr = t.detach().cpu().mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
    return Image.fromarray(arr.permute(1, 2, 0).contiguous().numpy(), mode="RGB")
