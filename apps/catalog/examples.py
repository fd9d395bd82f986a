"""Examples: what a catalog version makes (a picture, or a short text), for the home page's tool cards.

The starter installer (starters.py) makes one per starter with ml/<family>/starter.py's ``example``
and stores it here. A card shows the example of its family's active version; a version without one
(an admin's upload, a studio training) is shown by its first preview, or by nothing.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from ml.common.starter import Example

from .models import ModelExample, ModelVersion


def has_example(version: ModelVersion) -> bool:
    return ModelExample.objects.filter(version=version).exists()


def store(version: ModelVersion, example: Example, saved: list[str] | None = None) -> ModelExample:
    """Keep ``example`` as ``version``'s (a version has one at most: IntegrityError for a second);
    the picture's file name is added to ``saved``, so a caller whose transaction rolls back can
    delete it."""
    item = ModelExample(version=version, caption=example.caption[:300], text=example.text)
    if example.image:
        with Image.open(io.BytesIO(example.image)) as img:  # the size, for the page's width/height
            item.width, item.height = img.size
        item.image.save("example.jpg", ContentFile(example.image), save=False)
        if saved is not None:
            saved.append(item.image.name or "")
    item.save()
    return item


@dataclass(frozen=True)
class CardExample:
    """What a tool card shows: a picture (``url``) or a text, and what it is in words."""

    caption: str
    url: str = ""
    width: int = 0  # 0 when unknown (a preview's)
    height: int = 0
    text: str = ""


def _shown(version: ModelVersion) -> CardExample | None:
    example = getattr(version, "example", None)  # the reverse one-to-one raises when there is none
    if example is not None and (example.image or example.text):
        url = reverse("catalog-example", args=[example.pk]) if example.image else ""
        return CardExample(example.caption, url, example.width, example.height, example.text)
    preview = next(iter(version.previews.all()), None)  # prefetched, in position order
    if preview is not None:
        return CardExample(f"{version.name}: {preview.label}", reverse("catalog-preview", args=[preview.pk]))
    return None


def for_families(families: Iterable[str]) -> dict[str, CardExample]:
    """Each family's card example, from its active version; families with nothing to show are left
    out. Three queries whatever the number of families."""
    versions = (ModelVersion.objects.filter(family__in=set(families), status=ModelVersion.Status.ACTIVE)
                .select_related("example").prefetch_related("previews"))
    shown = {v.family: _shown(v) for v in versions}
    return {family: card for family, card in shown.items() if card is not None}
