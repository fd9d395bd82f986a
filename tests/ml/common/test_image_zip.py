"""Reading a user's zip of images: hostile zips are refused from their directory, before anything is
decoded; files that are not images are skipped and named; any image size comes out square."""

from __future__ import annotations

import io
import struct
import zipfile
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import ml.common.image_zip as image_zip
from ml.common.image_zip import (
    ImageZipError,
    ZipLimits,
    prepare,
    prepare_image,
    read_image_folder,
    read_image_zip,
    read_images,
)
from tests.ml.conftest import encode, gradient_image, png_header_bomb


def make_zip(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in files.items():
            if name.endswith("/"):
                zf.mkdir(name.rstrip("/"))
            else:
                zf.writestr(name, data)
    return buf.getvalue()


def png(size: tuple[int, int] = (24, 16)) -> bytes:
    return encode(gradient_image(size))


@pytest.fixture
def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts load_image calls: refusals that must come before any decode check it stays 0."""
    calls = [0]
    real = image_zip.load_image

    def counting(*args: Any, **kwargs: Any) -> Image.Image:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(image_zip, "load_image", counting)
    return calls


def test_it_reads_the_images_of_a_zip_in_name_order() -> None:
    data = make_zip({"b.png": png((30, 20)), "a.jpg": encode(gradient_image((10, 12)), "JPEG")})
    found = read_image_zip(data)
    assert found.names == ["a.jpg", "b.png"]
    assert [im.size for im in found.images] == [(10, 12), (30, 20)]
    assert all(im.mode == "RGB" for im in found.images)
    assert found.warnings == []


def test_it_reads_from_a_path_and_a_file_object(tmp_path: Path) -> None:
    data = make_zip({"a.png": png()})
    (tmp_path / "up.zip").write_bytes(data)
    assert len(read_image_zip(tmp_path / "up.zip").images) == 1
    assert len(read_image_zip(str(tmp_path / "up.zip")).images) == 1
    assert len(read_image_zip(io.BytesIO(data)).images) == 1


@pytest.mark.parametrize("data", [b"", b"hello, not a zip", png()], ids=["empty file", "text", "a png"])
def test_it_refuses_what_is_not_a_zip(data: bytes) -> None:
    with pytest.raises(ImageZipError, match="^not a zip file$"):
        read_image_zip(data)


def test_an_empty_zip_is_refused() -> None:
    with pytest.raises(ImageZipError, match="^empty zip: no images found$"):
        read_image_zip(make_zip({}))


def test_a_zip_of_folders_and_mac_junk_only_counts_as_empty() -> None:
    junk = {"photos/": b"", "__MACOSX/photos/._a.png": b"\x00\x05\x16\x07", ".DS_Store": b"\x00" * 64,
            "photos/Thumbs.db": b"\x00" * 10}
    with pytest.raises(ImageZipError, match="^empty zip: no images found$"):
        read_image_zip(make_zip(junk))


def test_a_zip_without_any_image_says_so_and_names_the_first_file() -> None:
    files = {f"notes{i:02d}.txt": b"shopping list: eggs\n" * 3 for i in range(12)}
    with pytest.raises(ImageZipError) as info:
        read_image_zip(make_zip(files))
    assert str(info.value) == ("none of the 12 files is an image "
                               "(first: notes00.txt: not an image (unrecognised file format))")


def test_a_zip_with_one_file_that_is_no_image() -> None:
    with pytest.raises(ImageZipError, match=r"^the only file is not an image \(cv.pdf: not an image"):
        read_image_zip(make_zip({"cv.pdf": b"%PDF-1.4 not really"}))


def test_non_images_among_images_are_skipped_and_named() -> None:
    files = {"a.png": png(), "notes.txt": b"hello", "b.png": png((40, 40)), "empty.jpg": b""}
    found = read_image_zip(make_zip(files))
    assert found.names == ["a.png", "b.png"]
    assert found.warnings == [
        "empty.jpg: not an image: the file is empty",
        "notes.txt: not an image (unrecognised file format)",
    ]


def test_a_corrupt_image_inside_is_skipped_with_its_reason() -> None:
    rng = np.random.default_rng(0)
    noisy = encode(Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)), "JPEG", quality=95)
    found = read_image_zip(make_zip({"good.png": png(), "cut.jpg": noisy[: len(noisy) // 2]}))
    assert found.names == ["good.png"]
    assert found.warnings == ["cut.jpg: image is truncated or corrupt"]


def test_a_pixel_bomb_inside_is_skipped_from_its_header() -> None:
    found = read_image_zip(make_zip({"good.png": png(), "huge.png": png_header_bomb(8000, 8000)}))
    assert found.names == ["good.png"]
    assert found.warnings == ["huge.png: image too large: 8000x8000 pixels (limit 40 MP)"]


def test_nested_folders_are_read_and_hidden_files_skipped() -> None:
    files = {
        "set/": b"",
        "set/cats/": b"",
        "set/cats/deep/one.png": png(),
        "set/two.png": png(),
        "set/.hidden.png": png(),
        ".git/objects/x.png": png(),
        "__MACOSX/set/cats/deep/._one.png": b"\x00\x05\x16\x07junk",
        "set\\windows\\three.png": png(),  # a zip made on Windows with backslashes
    }
    found = read_image_zip(make_zip(files))
    assert found.names == ["set/cats/deep/one.png", "set/two.png", "set\\windows\\three.png"]
    assert found.warnings == []


def test_a_zip_bomb_is_refused_before_anything_is_decoded(count_decodes: list[int]) -> None:
    # 2 MB of zeros deflates to about 2 KB (about 1000:1): small to build, obvious to spot.
    data = make_zip({"a.png": png(), "x.png": b"\x00" * 2_000_000})
    assert len(data) < 10_000
    bomb = r"^zip bomb: x.png would unpack to 2,000,000 bytes \(ratio [\d,]+:1, limit 100:1\)$"
    with pytest.raises(ImageZipError, match=bomb):
        read_image_zip(data)
    assert count_decodes[0] == 0


def test_a_zip_that_would_unpack_past_the_total_limit_is_refused(count_decodes: list[int]) -> None:
    data = make_zip({f"{i}.png": b"\x00" * 400_000 for i in range(3)})
    limits = ZipLimits(max_total_bytes=1_000_000)
    with pytest.raises(ImageZipError, match=r"^too large: the files would unpack to 1,200,000 bytes "
                                            r"\(limit 1,000,000\)$"):
        read_image_zip(data, limits=limits)
    assert count_decodes[0] == 0


def test_a_zip_that_lies_about_a_size_never_unpacks_more_than_it_claims() -> None:
    # Claim 1,000 bytes for 2 MB of zeros in the central directory (what zipfile trusts): the small
    # claim slips past the ratio check, but the read stops at 1,000 bytes and the CRC fails.
    data = bytearray(make_zip({"a.png": png(), "liar.png": b"\x00" * 2_000_000}))
    central = data.rindex(b"PK\x01\x02")  # the central directory's last entry: liar.png
    assert data[central + 46:central + 46 + 8] == b"liar.png"
    struct.pack_into("<I", data, central + 24, 1_000)  # uncompressed size
    found = read_image_zip(bytes(data))
    assert found.names == ["a.png"]
    assert found.warnings == ["liar.png: damaged inside the zip (it does not unpack cleanly)"]


def test_too_many_files_are_refused_from_the_directory_alone(count_decodes: list[int]) -> None:
    data = make_zip({f"f/{i:05d}.png": b"" for i in range(10_000)}, compression=zipfile.ZIP_STORED)
    with pytest.raises(ImageZipError, match=r"^too many files: 10,000 \(limit 5,000\)$"):
        read_image_zip(data)
    assert count_decodes[0] == 0


def test_a_file_over_the_per_file_limit_is_skipped() -> None:
    rng = np.random.default_rng(1)
    noise = encode(Image.fromarray(rng.integers(0, 255, (60, 60, 3), dtype=np.uint8)))  # ~10 KB
    found = read_image_zip(make_zip({"small.png": png((8, 8)), "big.png": noise}),
                           limits=ZipLimits(max_file_bytes=5_000))
    assert found.names == ["small.png"]
    assert len(found.warnings) == 1 and found.warnings[0].startswith("big.png: file too large: ")


def test_the_total_pixels_kept_are_capped() -> None:
    files = {f"{i}.png": png((100, 100)) for i in range(3)}
    with pytest.raises(ImageZipError, match=r"^too many pixels: .* use fewer or smaller images$"):
        read_image_zip(make_zip(files), limits=ZipLimits(max_total_pixels=25_000))
    # The cap counts images as kept: shrunk as they are decoded, the same zip fits.
    found = read_image_zip(make_zip(files), limits=ZipLimits(max_total_pixels=25_000),
                           transform=partial(prepare_image, size=32))
    assert [im.size for im in found.images] == [(32, 32)] * 3


def test_long_and_odd_names_are_shortened_in_messages() -> None:
    name = "\x1b[31m" + "x" * 200 + ".txt"
    found = read_image_zip(make_zip({"ok.png": png(), name: b"text"}))
    (warning,) = found.warnings
    assert "\x1b" not in warning and warning.startswith("?[31mxxx") and "…: not an image" in warning


@pytest.mark.parametrize("mode", ["center-crop", "pad", "stretch"])
def test_wildly_different_sizes_all_come_out_square(mode: str) -> None:
    images = [gradient_image((8, 500)), gradient_image((3000, 20)), gradient_image((64, 64)),
              Image.new("L", (1, 1), 128), Image.new("RGBA", (33, 17), (255, 0, 0, 128))]
    for size in (32, 64):
        out = prepare(images, size, mode)
        assert [im.size for im in out] == [(size, size)] * len(images)
        assert all(im.mode == "RGB" for im in out)


def test_center_crop_keeps_the_middle_and_pad_keeps_everything() -> None:
    # A strip: red left third, green middle, blue right third.
    strip = Image.new("RGB", (300, 20), (255, 0, 0))
    strip.paste((0, 255, 0), (100, 0, 200, 20))
    strip.paste((0, 0, 255), (200, 0, 300, 20))
    cropped = np.asarray(prepare_image(strip, 16, "center-crop"))
    assert (cropped[..., 1] > 200).all() and (cropped[..., 0] < 50).all()  # only the green middle
    padded = np.asarray(prepare_image(strip, 30, "pad"))
    assert padded[0].max() == 0 and padded[-1].max() == 0  # black bars above and below
    row = padded[15]
    assert row[0, 0] > 200 and row[15, 1] > 200 and row[-1, 2] > 200  # all three thirds


def test_an_unknown_resize_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown resize mode 'zoom'"):
        prepare([gradient_image()], 32, "zoom")


def test_a_folder_reads_like_a_zip(tmp_path: Path) -> None:
    (tmp_path / "cats" / "deep").mkdir(parents=True)
    (tmp_path / ".cache").mkdir()
    (tmp_path / "cats" / "deep" / "one.png").write_bytes(png())
    (tmp_path / "two.png").write_bytes(png((10, 10)))
    (tmp_path / ".cache" / "x.png").write_bytes(png())
    (tmp_path / "._two.png").write_bytes(b"\x00\x05\x16\x07")
    (tmp_path / "readme.txt").write_text("hello")
    found = read_images(tmp_path)
    assert found.names == ["cats/deep/one.png", "two.png"]
    assert found.warnings == ["readme.txt: not an image (unrecognised file format)"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageZipError, match="^empty folder: no images found$"):
        read_image_folder(tmp_path / "empty")
    (tmp_path / "up.zip").write_bytes(make_zip({"a.png": png()}))
    assert read_images(tmp_path / "up.zip").names == ["a.png"]


def test_max_images_stops_decoding_at_the_first_usable_ones(count_decodes: list[int]) -> None:
    files = {"0-notes.txt": b"not an image", **{f"{i}.png": png() for i in range(5)}}
    found = read_image_zip(make_zip(files), max_images=1)
    assert found.names == ["0.png"] and count_decodes[0] == 2  # the notes tried, then one image
    with pytest.raises(ImageZipError, match=r"^too many files"):  # the refusals still come first
        read_image_zip(make_zip(files), limits=ZipLimits(max_files=3), max_images=1)
