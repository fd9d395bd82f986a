from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ml.common.images import (
    ImageError,
    image_to_tensor,
    load_image,
    resize_max_side,
    tensor_to_image,
)
from tests.ml.conftest import encode, gradient_image, png_header_bomb


def test_it_loads_png_bytes_path_and_file_object(tmp_path: Path) -> None:
    data = encode(gradient_image((30, 20)))
    (tmp_path / "a.png").write_bytes(data)
    for src in (data, tmp_path / "a.png", str(tmp_path / "a.png"), io.BytesIO(data)):
        img = load_image(src)
        assert img.mode == "RGB" and img.size == (30, 20)


def test_it_rejects_non_image_bytes_with_a_jpg_name(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"#!/bin/sh\necho this is not a picture\n" * 10)
    with pytest.raises(ImageError, match=r"^not an image \(unrecognised file format\)$"):
        load_image(path)


def test_it_rejects_an_empty_file() -> None:
    with pytest.raises(ImageError, match="^not an image: the file is empty$"):
        load_image(b"")


def test_it_rejects_a_truncated_jpeg() -> None:
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    data = encode(noisy, "JPEG", quality=95)
    with pytest.raises(ImageError, match="image is truncated or corrupt"):
        load_image(data[: len(data) // 2])


def test_it_rejects_a_decompression_bomb_from_its_header() -> None:
    bomb = png_header_bomb(8000, 8000)  # 64 MP: over our 40 MP limit, under Pillow's own
    assert len(bomb) < 100_000
    with pytest.raises(ImageError, match=r"image too large: 8000x8000 pixels \(limit 40 MP\)"):
        load_image(bomb)


def test_it_rejects_a_huge_bomb_that_pillow_also_refuses() -> None:
    bomb = png_header_bomb(30000, 30000)  # 900 MP
    message = r"^image too large: 900 MP, a possible decompression bomb \(limit 40 MP\)$"
    with pytest.raises(ImageError, match=message):
        load_image(bomb)


def test_it_enforces_the_byte_limit() -> None:
    data = encode(gradient_image((30, 20)))
    with pytest.raises(ImageError, match="^file too large: more than 100 bytes$"):
        load_image(data, max_bytes=100)
    with pytest.raises(ImageError, match="^file too large: more than 100 bytes$"):
        load_image(io.BytesIO(data), max_bytes=100)
    assert load_image(data, max_bytes=len(data)).size == (30, 20)  # the limit itself is allowed


def test_it_applies_exif_orientation() -> None:
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 20, 20))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    img = load_image(encode(stored, "JPEG", exif=exif.tobytes(), quality=95))
    assert img.size == (20, 40)
    r, _, b = img.getpixel((10, 5))  # the stored left side is now on top
    assert r > 200 and b < 60


def test_it_flattens_transparency_onto_white() -> None:
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert load_image(encode(rgba)).getpixel((0, 0)) == (255, 255, 255)


def test_resize_max_side_only_shrinks() -> None:
    img = gradient_image((80, 40))
    assert resize_max_side(img, 40).size == (40, 20)
    assert resize_max_side(img, 400).size == (80, 40)


def test_tensor_round_trip() -> None:
    img = gradient_image((24, 16))
    t = image_to_tensor(img)
    assert t.shape == (1, 3, 16, 24) and t.dtype == torch.float32 and t.is_contiguous()
    assert 0.0 <= float(t.min()) and float(t.max()) <= 1.0
    assert np.array_equal(np.asarray(tensor_to_image(t)), np.asarray(img))
