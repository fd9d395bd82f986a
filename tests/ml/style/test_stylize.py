"""Style transfer on tiny images (64 px, a handful of steps) so the whole file runs in seconds."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ml.common.progress import Cancelled
from ml.style.config import StyleConfig
from ml.style.infer import stylize
from ml.style.model import GRAM_CACHE


class Recorder:
    def __init__(self, cancel_after: int | None = None) -> None:
        self.events: list[tuple[int, int, bool, dict]] = []
        self.cancel_after = cancel_after

    def update(self, step, total, message="", preview=None, metrics=None) -> None:
        self.events.append((step, total, preview is not None, dict(metrics or {})))

    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.events) >= self.cancel_after


def tiny(**kw: object) -> StyleConfig:
    base: dict[str, object] = {
        "steps": 12,
        "max_side": 64,
        "preview_every": 5,
        "network": "efficientnet-lite0",
        "scales": (1.0,),
    }
    base.update(kw)
    return StyleConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_it_lowers_the_loss(optimizer: str, content_img: Image.Image, style_img: Image.Image) -> None:
    rec = Recorder()
    result = stylize(tiny(optimizer=optimizer, lr=0.05), content_img, style_img, progress=rec)
    first = rec.events[0][3]["loss"]
    assert result.losses["loss"] < 0.5 * first
    assert result.network == "efficientnet-lite0" and result.steps_done == 12
    assert result.image.size == (64, 51) and result.image.mode == "RGB"


def test_it_reports_progress_monotonically_with_previews(content_img, style_img) -> None:
    rec = Recorder()
    stylize(tiny(steps=11, scales=(0.5, 1.0)), content_img, style_img, progress=rec)
    steps = [e[0] for e in rec.events]
    assert steps == list(range(1, 12)) and all(e[1] == 11 for e in rec.events)
    previews = [e[0] for e in rec.events if e[2]]
    assert previews == [5, 10, 11]  # every preview_every steps and at the end
    assert set(rec.events[-1][3]) == {"loss", "content", "style"}  # no tv term without a tv weight


def test_it_is_deterministic_with_a_seed(content_img, style_img) -> None:
    cfg = tiny(steps=6, init="noise", seed=3)
    a = stylize(cfg, content_img, style_img).image
    b = stylize(cfg, content_img, style_img).image
    c = stylize(tiny(steps=6, init="noise", seed=4), content_img, style_img).image
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_it_stops_when_cancelled(content_img, style_img) -> None:
    rec = Recorder(cancel_after=3)
    with pytest.raises(Cancelled):
        stylize(tiny(steps=50), content_img, style_img, progress=rec)
    assert len(rec.events) == 3


def test_it_reuses_style_grams_across_jobs(content_img, style_img) -> None:
    GRAM_CACHE.clear()
    stylize(tiny(steps=1), content_img, style_img)
    stylize(tiny(steps=1, seed=9), content_img, style_img)
    assert GRAM_CACHE.hits == 1


def test_tv_weight_adds_a_tv_term(content_img, style_img) -> None:
    result = stylize(tiny(steps=2, tv_weight=10.0), content_img, style_img)
    assert set(result.losses) == {"loss", "content", "style", "tv"} and result.losses["tv"] > 0


def test_it_rejects_an_invalid_config(content_img, style_img) -> None:
    with pytest.raises(ValueError, match="^steps must be between 1 and 5000, got 0$"):
        stylize(tiny(steps=0), content_img, style_img)


def test_scale_plan_gives_the_finest_scale_the_larger_share() -> None:
    from ml.style.infer import scale_plan

    assert scale_plan((200, 100), (0.5, 1.0), 300) == [((100, 50), 100), ((200, 100), 200)]
    assert scale_plan((200, 100), (1.0,), 7) == [((200, 100), 7)]
    assert sum(n for _, n in scale_plan((64, 64), (0.25, 0.5, 1.0), 5)) == 5
