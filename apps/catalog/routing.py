"""Routing a job to an endpoint variant by weight.

Sticky endpoints send a user to the same variant every time: the user's id and the endpoint hash to
a fixed point in [0, total weight), and the variant whose slice holds it serves (so a user's
experience does not flip between models mid-test; changing the weights moves some users). Other
endpoints draw at random, in proportion to the weights.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from django.db import transaction

from .models import Endpoint, ModelVersion, Variant


@dataclass(frozen=True)
class Table:
    """An endpoint's routing: its servable variants (weight > 0, a valid version) in name order."""

    endpoint_id: int
    sticky: bool
    variants: tuple[Variant, ...]


def table(family: str) -> Table | None:
    """``family``'s routing table, or None when it has no endpoint (two queries)."""
    endpoint = Endpoint.objects.filter(family=family).first()
    if endpoint is None:
        return None
    variants = tuple(v for v in endpoint.variants.select_related("version").order_by("name")
                     if v.weight > 0 and v.version.validation == ModelVersion.Validation.VALID)
    return Table(endpoint.pk, endpoint.sticky, variants)


def choose(family: str, user_id: int, rng: random.Random | None = None) -> Variant | None:
    """The variant of ``family``'s endpoint that serves this request, or None (no endpoint or no
    variant with weight: the active version serves)."""
    return pick(table(family), user_id, rng)


def pick(routes: Table | None, user_id: int, rng: random.Random | None = None) -> Variant | None:
    """``choose`` on a table read before (the invokes keep one for a second: apps/api/invoke.py)."""
    if routes is None:
        return None
    total = sum(v.weight for v in routes.variants)
    if not total:
        return None
    if routes.sticky:
        digest = hashlib.sha256(f"{routes.endpoint_id}:{user_id}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") % total
    else:
        point = (rng or random).randrange(total)
    for variant in routes.variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    raise AssertionError("unreachable: the point lies inside the total weight")


def promote(variant: Variant) -> None:
    """Send all of the endpoint's traffic to ``variant`` (the others keep their rows at weight 0),
    and make its version the family's active one, so it also serves once the endpoint is gone."""
    from . import services

    with transaction.atomic():
        variant.endpoint.variants.exclude(pk=variant.pk).update(weight=0)
        if variant.weight == 0:
            variant.weight = 1
            variant.save(update_fields=["weight"])
        if variant.version.status != ModelVersion.Status.ACTIVE:
            services.activate(variant.version)
