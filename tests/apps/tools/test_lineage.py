"""Result PNGs say how they were made, and stay ordinary PNGs."""

from __future__ import annotations

import io
from typing import Any
from unittest import mock

from PIL import Image

from apps.tools.lineage import CHUNK, lineage, png_output, read_lineage
from studio.version import VERSION


def test_the_record_round_trips_through_the_png() -> None:
    version = mock.Mock(pk=7, family="dcgan", version=2, label="dcgan/v2@abc", sha256="ab" * 32)
    record = lineage("dcgan", {"n": 16, "seed": 3}, seed=3, model=mock.Mock(version=version))
    out = png_output("grid.png", Image.new("RGB", (8, 8), (10, 20, 30)), record)
    assert out.content_type == "image/png" and out.name == "grid.png"
    got: dict[str, Any] = read_lineage(out.content)
    assert got == {"tool": "dcgan", "params": {"n": 16, "seed": 3}, "seed": 3, "studio_version": VERSION,
                   "model": {"id": 7, "family": "dcgan", "version": 2, "label": "dcgan/v2@abc",
                             "sha256": "ab" * 32}}
    image = Image.open(io.BytesIO(out.content))
    assert image.size == (8, 8) and image.getpixel((0, 0)) == (10, 20, 30)
    assert CHUNK in image.text and image.text["Software"] == f"GAN & style studio {VERSION}"


def test_a_png_without_a_record_reads_as_empty() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, format="PNG")
    assert read_lineage(buffer.getvalue()) == {}
