"""Results carry their lineage: each PNG a tool writes says how it was made.

The PNG gets one iTXt chunk, ``studio-lineage``, holding JSON: tool, parameters, seed, model version
(id, label, sha256) and studio version. Any PNG reader shows it (e.g. ``exiftool``, or Pillow's
``Image.open(f).text``), and ``read_lineage`` gives it back as a dict.
"""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import Image, PngImagePlugin

from apps.catalog.loading import LoadedModel
from studio.version import VERSION

from .base import OutputFile

CHUNK = "studio-lineage"


def lineage(tool: str, params: dict[str, Any], *, seed: int | None = None,
            model: LoadedModel[Any] | None = None, **extra: Any) -> dict[str, Any]:
    """What a result records about how it was made."""
    record: dict[str, Any] = {"tool": tool, "params": params, "seed": seed, "studio_version": VERSION}
    if model is not None:
        v = model.version
        record["model"] = {"id": v.pk, "family": v.family, "version": v.version, "label": v.label,
                           "sha256": v.sha256}
    record.update(extra)
    return record


def png_output(name: str, image: Image.Image, record: dict[str, Any]) -> OutputFile:
    """``image`` as a PNG result file with ``record`` embedded."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(CHUNK, json.dumps(record, sort_keys=True, default=str))
    info.add_text("Software", f"GAN & style studio {VERSION}")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return OutputFile(name, buffer.getvalue(), "image/png")


def read_lineage(png: bytes) -> dict[str, Any]:
    """The record ``png_output`` embedded; {} when there is none."""
    with Image.open(io.BytesIO(png)) as image:
        text = getattr(image, "text", {}).get(CHUNK)
    return json.loads(text) if text else {}
