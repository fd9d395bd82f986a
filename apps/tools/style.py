"""Neural style transfer (Gatys et al. 2016): optimise an image to match one photo's content
and another's style. Slow but general; previews stream as it works."""

from __future__ import annotations

import io
from dataclasses import asdict
from typing import Any

from django import forms

from ml.common.images import load_image
from ml.common.progress import Progress
from ml.style.config import StyleConfig
from ml.style.gatys import stylize

from .base import OutputFile, Tool, ToolOutput, register
from .fields import UploadedImageField


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
    network = forms.ChoiceField(
        choices=[("auto", "Best available"), ("vgg19", "VGG19"),
                 ("efficientnet-lite0", "EfficientNet-Lite0 (offline)")],
        initial="auto")


@register
class StyleTool(Tool):
    slug = "style"
    title = "Neural style transfer"
    description = "Repaint a photo in the style of another image (Gatys et al.), with live previews."
    queue = "gpu"
    form_class = StyleForm

    def run(self, params: dict[str, Any], inputs: dict[str, bytes], progress: Progress) -> ToolOutput:
        cfg = StyleConfig(**_config_fields(params))
        cfg.validate()
        content = load_image(inputs["content"])
        style = load_image(inputs["style"])
        result = stylize(cfg, content, style, progress=progress)
        buffer = io.BytesIO()
        result.image.save(buffer, format="PNG")
        summary = {"network": result.network, "losses": result.losses,
                   "steps": result.steps_done, "seconds": round(result.seconds, 2),
                   "config": asdict(cfg)}
        return ToolOutput(files=[OutputFile("stylized.png", buffer.getvalue(), "image/png")],
                          summary=summary, model_version=f"style-features/{result.network}")


def _config_fields(params: dict[str, Any]) -> dict[str, Any]:
    known = StyleConfig.__dataclass_fields__
    return {k: v for k, v in params.items() if k in known}
