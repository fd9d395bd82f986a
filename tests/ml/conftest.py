"""Small synthetic images for ml tests (a decompression bomb among them): no files from the internet,
nothing larger than needed; and what the trainers' tests share (a progress recorder, one torch
thread, comparing weights, image zips)."""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import torch
from PIL import Image

from ml.common.family import Family, validate
from ml.common.progress import NullProgress
from ml.common.training import TrainResult

C = TypeVar("C")


def encode(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def gradient_image(size: tuple[int, int] = (80, 64)) -> Image.Image:
    """A content-like picture: smooth gradients plus a bright disc and a dark bar."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = xx / w
    g = yy / h
    b = 0.5 + 0.5 * np.sin(xx / 7.0)
    disc = ((xx - w * 0.6) ** 2 + (yy - h * 0.4) ** 2) < (min(w, h) * 0.2) ** 2
    arr = np.stack([r, g, b], axis=-1)
    arr[disc] = (1.0, 0.95, 0.3)
    arr[int(h * 0.7) : int(h * 0.8), : w // 2] = 0.05
    return Image.fromarray((arr * 255).astype(np.uint8))


def texture_image(size: tuple[int, int] = (64, 64), seed: int = 1) -> Image.Image:
    """A style-like picture: diagonal stripes with colour noise."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    stripes = ((xx + yy) // 4) % 2
    arr = np.where(stripes[..., None] == 1, [0.9, 0.2, 0.1], [0.1, 0.3, 0.8])
    arr = np.clip(arr + rng.normal(0, 0.08, size=(h, w, 3)), 0, 1)
    return Image.fromarray((arr * 255).astype(np.uint8))


def png_header_bomb(width: int, height: int) -> bytes:
    """A valid, fully decodable 1-bit black PNG of the given size; all-zero rows compress ~1000:1."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def content_img() -> Image.Image:
    return gradient_image()


@pytest.fixture
def style_img() -> Image.Image:
    return texture_image()


# --- for the trainers' tests ----------------------------------------------------------------------


class Recorder(NullProgress):
    """A progress listener that keeps every update and cancels after ``cancel_after`` checks."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.updates: list[dict] = []
        self.checks = 0
        self.cancel_after = cancel_after

    def update(self, step: int, total: int, message: str = "", preview: Image.Image | None = None,
               metrics: dict[str, float] | None = None) -> None:
        self.updates.append({"step": step, "total": total, "message": message, "preview": preview,
                             "metrics": metrics})

    def cancelled(self) -> bool:
        self.checks += 1
        return self.cancel_after is not None and self.checks > self.cancel_after


@pytest.fixture
def one_thread() -> Iterator[None]:
    """For tiny nets: one thread is fastest, and on a busy machine two threads that wait for each
    other made the same run 10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def shape_images(n: int, seed: int, sides: tuple[int, int], *, squares: bool = False) -> list[Image.Image]:
    """``n`` coloured shapes on grey, each at a random size and aspect ratio (sides from
    ``sides[0]`` to ``sides[1]``): discs, or with ``squares`` squares and discs in turn."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        w, h = int(rng.integers(*sides)), int(rng.integers(*sides))
        arr = np.full((h, w, 3), 128, dtype=np.uint8)
        yy, xx = np.mgrid[0:h, 0:w]
        cx, cy, r = w / 2, h / 2, min(w, h) / 3
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        square = (abs(xx - cx) < r) & (abs(yy - cy) < r)
        arr[square if squares and i % 2 == 0 else disc] = rng.integers(0, 255, 3)
        out.append(Image.fromarray(arr))
    return out


def on_cpu(train: Callable[..., TrainResult]) -> Callable[..., TrainResult]:
    """A trainer run on the CPU even where a GPU is (a torch.device skips STUDIO_DEVICE): exact
    resumes are a CPU promise; cuDNN may choose non-deterministic kernels."""
    return functools.partial(train, device=torch.device("cpu"))


def settings_from(base: dict[str, Any], config_class: type[C]) -> Callable[..., C]:
    """``tiny(**overrides)``: the trainer's TrainConfig from a test's small settings, some overridden."""
    def tiny(**overrides: Any) -> C:
        return config_class(**{**base, **overrides})

    return tiny


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def write_zip(path: Path, images: list[Image.Image]) -> None:
    """The images as set/00.png, set/01.png ..., and a set/readme.txt that is not an image."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, img in enumerate(images):
            zf.writestr(f"set/{i:02d}.png", encode(img))
        zf.writestr("set/readme.txt", "not an image")
    path.write_bytes(buf.getvalue())


# --- spoiling a checkpoint's weights, for the families' validation tests ---------------------------

Spoil = Callable[[dict[str, torch.Tensor]], object]


def replaced(key: str, value: torch.Tensor) -> Spoil:
    return lambda state: state.update({key: value})


def poisoned(key: str) -> Spoil:
    """One NaN among the weights of ``key``."""
    return lambda state: state[key].view(-1).index_fill_(0, torch.tensor([0]), float("nan"))


def dropped(key: str) -> Spoil:
    return lambda state: state.pop(key)


def validation_errors(family: Family, checkpoint: dict, spoil: Spoil) -> list[str]:
    """What validating ``checkpoint`` against ``family`` says once ``spoil`` has changed its weights."""
    spoil(checkpoint["state_dict"])
    report = validate(family, checkpoint)
    assert report.ok == (report.errors == [])  # a report with errors is never ok
    return report.errors
