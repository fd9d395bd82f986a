"""What the invoke server does for each tool: a batch of requests in, one reply per request out.

Each request is the JSON the API view pushed (apps/api/invoke.py); each reply is JSON too, images as
base64 PNG. The model is the family's active version, or the one the batcher pinned for the
request's endpoint variant (apps.catalog.loading.pinned). A function here may raise: the batcher then
tells every request of the batch why.

- sentiment: all the texts in one forward pass (``predict_many``).
- dcgan: every request's latents stacked into one forward pass, then cut back into one grid each.
- fast-style: one forward per photo (photos differ in size, so they do not stack).

torch and the ml modules are imported in the functions: the web process reads INVOKERS (which
family a tool's invokes use) without loading them. The invoke server imports them all before its
first request (``preload``), which would otherwise wait seconds for them.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

from apps.tools.dcgan import load_generator
from apps.tools.fast_style import load_style_network
from apps.tools.sentiment import load_sentiment
from ml.common.images import load_image

Reply = dict[str, Any]


def _png(image: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def sentiment(requests: list[dict[str, Any]]) -> list[Reply]:
    from ml.common.device import pick_device
    from ml.sentiment.infer import predict_many

    loaded = load_sentiment(pick_device())
    scores = predict_many(loaded.model, [r["text"] for r in requests], chunk=max(len(requests), 1))
    return [{"probability": p, "label": "positive" if p >= 0.5 else "negative",
             "model": loaded.version.label, "batch": len(requests)} for p in scores]


def dcgan(requests: list[dict[str, Any]]) -> list[Reply]:
    import torch

    from ml.common.device import pick_device
    from ml.dcgan.infer import draw, generate, grid, square_nrow

    device = pick_device()
    loaded = load_generator(device)
    nz = int(loaded.model.nz)
    # draw(nz, n, seed) is what the DCGAN tool's grid uses, so an invoke gives the job's images.
    z = torch.cat([draw(nz, int(r["n"]), int(r["seed"])) for r in requests])
    images = generate(loaded.model, z, device, chunk=z.shape[0])
    replies, start = [], 0
    for r in requests:
        n = int(r["n"])
        picture = grid(images[start:start + n], nrow=square_nrow(n))
        start += n
        replies.append({"png": _png(picture), "model": loaded.version.label, "batch": len(requests),
                        "seed": int(r["seed"])})
    return replies


def fast_style(requests: list[dict[str, Any]]) -> list[Reply]:
    from ml.common.device import pick_device
    from ml.fast_style.infer import stylize_fast

    device = pick_device()
    loaded = load_style_network(device)
    replies = []
    for r in requests:
        photo = load_image(base64.b64decode(r["photo"]))
        image = stylize_fast(loaded.model, photo, style_weights=r["styles"], max_side=int(r["max_side"]),
                             preserve_colors=bool(r.get("preserve_colors")), device=device)
        replies.append({"png": _png(image), "model": loaded.version.label, "batch": 1})
    return replies


def preload() -> None:
    """Import torch and every invoker's ml modules now."""
    import ml.common.device  # noqa: F401
    import ml.dcgan.infer  # noqa: F401
    import ml.fast_style.infer  # noqa: F401
    import ml.sentiment.infer  # noqa: F401


# tool slug -> (its model family, the function answering a batch)
INVOKERS: dict[str, tuple[str, Callable[[list[dict[str, Any]]], list[Reply]]]] = {
    "sentiment": ("sentiment", sentiment),
    "dcgan": ("dcgan", dcgan),
    "fast-style": ("fast-style", fast_style),
}
