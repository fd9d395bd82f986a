"""Neural style transfer (Gatys et al. 2016): optimise an image to match one photo's content
and another's style. Slow but general; previews stream as it works."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django import forms

from apps.catalog.loading import load_active
from ml.common.images import load_image
from ml.style.config import StyleConfig

from .base import Tool, ToolOutput
from .context import RunContext
from .fields import UploadedImageField
from .lineage import lineage, png_output


class StyleForm(forms.Form):
    content = UploadedImageField(help_text="The photo to repaint.")
    style = UploadedImageField(help_text="The painting or texture whose style to borrow.")
    steps = forms.IntegerField(min_value=1, max_value=2000, initial=150,
                               help_text="Optimiser steps (L-BFGS evaluations or Adam steps).")
    max_side = forms.IntegerField(min_value=64, max_value=1024, initial=320, label="Output size",
                                  help_text="Longest side of the result in pixels.")
    optimizer = forms.ChoiceField(choices=[("lbfgs", "L-BFGS (fast)"), ("adam", "Adam")],
                                  initial="lbfgs")
    style_weight = forms.FloatField(min_value=0, max_value=1e12, initial=1e6)
    content_weight = forms.FloatField(min_value=0, max_value=1e6, initial=1.0)
    tv_weight = forms.FloatField(min_value=0, max_value=1e6, initial=0.0, label="Smoothness (TV)")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)


class StyleTool(Tool):
    slug = "style"
    family = "style-features"
    title = "Neural style transfer"
    description = "Repaint a photo in the style of another image (Gatys et al.), with live previews."
    queue = "gpu"
    form_class = StyleForm

    def run(self, ctx: RunContext) -> ToolOutput:
        from ml.common.device import pick_device
        from ml.features.infer import load as load_features
        from ml.features.model import LITE0_LAYERS
        from ml.style.infer import stylize

        cfg = StyleConfig(**_config_fields(ctx.params))
        cfg.validate()
        content = load_image(ctx.inputs["content"])
        style = load_image(ctx.inputs["style"])
        # The feature network is the catalog's active "style-features" version, kept loaded.
        device = pick_device()
        layers = tuple(sorted(LITE0_LAYERS))
        loaded = load_active("style-features",
                             lambda ckpt: load_features(ckpt, layers, device=device)[0],
                             purpose=f"all-layers@{device}")
        network = loaded.version.config.get("network", "?")
        ctx.progress.update(0, cfg.steps, loaded.status())
        result = stylize(cfg, content, style, progress=ctx.progress, device=device,
                         features=(loaded.model, network))
        record = lineage(self.slug, ctx.params, seed=cfg.seed, model=loaded)
        summary = {"network": network, "losses": result.losses,
                   "steps": result.steps_done, "seconds": round(result.seconds, 2),
                   "config": asdict(cfg)}
        return ToolOutput(files=[png_output("stylized.png", result.image, record)],
                          summary=summary, model=loaded)


def _config_fields(params: dict[str, Any]) -> dict[str, Any]:
    known = StyleConfig.__dataclass_fields__
    return {k: v for k, v in params.items() if k in known}
