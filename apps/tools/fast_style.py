"""Fast style transfer: one forward pass of the catalog's active multi-style network repaints a
photo in one of its styles, or in a weighted blend of several. Seconds, not minutes."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from django import forms

from apps.catalog.loading import LoadedModel, load_active
from apps.catalog.models import ModelVersion
from apps.catalog.services import active_version
from ml.common.images import load_image
from ml.common.progress import check_cancelled
from ml.fast_style.config import FastStyleConfig

from .base import Tool, ToolOutput
from .context import RunContext
from .fields import UploadedImageField
from .lineage import lineage, png_output

if TYPE_CHECKING:
    import torch

    from ml.fast_style.infer import FastStyleModel

FAMILY = "fast-style"
NO_MODEL = ("No fast-style model is installed, so there are no styles to pick from. An admin must "
            "install the starter models (manage.py install_starter_models) or activate a "
            "fast-style version in the catalog.")


def active_styles() -> tuple[ModelVersion | None, list[str]]:
    """The active fast-style version and its style names ([] when none is active)."""
    version = active_version(FAMILY)
    if version is None:
        return None, []
    # A config without names is a one-style network, whose style the network calls "style".
    return version, list(version.config.get("styles") or FastStyleConfig().styles)


def parse_blend(text: str, styles: list[str]) -> dict[str, float]:
    """``"name=0.5, other=0.5"`` -> {name: weight}; a bare name weighs 1. Names match regardless
    of case and spacing. ValidationError lists every problem, in words."""
    canonical = {" ".join(name.split()).lower(): name for name in styles}
    weights: dict[str, float] = {}
    errors: list[str] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        raw_name, sep, raw_weight = item.partition("=")
        key = " ".join(raw_name.split()).lower()
        name = canonical.get(key)
        if name is None:
            errors.append(f"Unknown style {raw_name.strip()!r}. The styles are: {', '.join(styles)}.")
            continue
        if name in weights:
            errors.append(f"{name!r} is named twice; give each style once.")
            continue
        try:
            weight = float(raw_weight) if sep else 1.0
        except ValueError:
            errors.append(f"{item!r}: the weight must be a number, as in \"{name}=0.5\".")
            continue
        if not math.isfinite(weight) or weight < 0:
            errors.append(f"The weight of {name!r} must be a number of 0 or more, not {raw_weight.strip()}.")
            continue
        weights[name] = weight
    if errors:
        raise forms.ValidationError(errors)
    if not weights:
        raise forms.ValidationError("The blend names no style. Write e.g. \"name=0.5, other=0.5\".")
    if not any(weights.values()):
        raise forms.ValidationError("All the weights are zero: give at least one style a weight above 0.")
    return weights


class FastStyleForm(forms.Form):
    photo = UploadedImageField(help_text="The photo to repaint.")
    style = forms.ChoiceField(required=False, help_text="Click a preview above, or choose here.")
    blend = forms.CharField(
        required=False, max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "name=0.5, other name=0.5"}),
        help_text="Or blend several styles with relative weights (set Style to \"a blend\"). "
                  "Turn on \"Blend\" above and click previews to add them.")
    max_side = forms.IntegerField(min_value=64, max_value=2048, initial=512, label="Output size",
                                  help_text="Longest side of the result in pixels.")
    preserve_colors = forms.BooleanField(required=False, label="Keep the photo's colours",
                                         help_text="Take the brush marks from the style, the colours "
                                                   "from the photo.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Asked at every form build, so an admin's switch of the active version shows at once.
        self.version, self.styles = active_styles()
        field = self.fields["style"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "a blend (below)")] + [(name, name) for name in self.styles]
        field.initial = self.styles[0] if self.styles else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.version is None:
            raise forms.ValidationError(NO_MODEL)
        style, blend = data.get("style") or "", (data.get("blend") or "").strip()
        if "style" in self.errors or "blend" in self.errors:
            return data
        if style and blend:
            self.add_error("blend", "Choose one style or a blend, not both: set Style to "
                                    "\"a blend\", or clear the blend.")
        elif not style and not blend:
            self.add_error("style", "Choose a style (click a preview) or write a blend.")
        elif blend:
            try:
                data["styles"] = parse_blend(blend, self.styles)
            except forms.ValidationError as exc:
                self.add_error("blend", exc)
        else:
            data["styles"] = {style: 1.0}
        return data


def load_style_network(device: torch.device) -> LoadedModel[FastStyleModel]:
    """The active (or pinned) fast-style network on ``device``, cached by the process."""
    from ml.fast_style.infer import load

    return load_active(FAMILY, lambda ckpt: load(ckpt, device), purpose=str(device))


class FastStyleTool(Tool):
    slug = "fast-style"
    family = "fast-style"
    title = "Fast style"
    description = ("Repaint a photo in one of the studio's styles, or a blend of several, in a "
                   "single pass of a trained network: seconds, not minutes.")
    queue = "gpu"
    form_class = FastStyleForm
    submit_template = "tools/fast_style.html"

    def submit_context(self) -> dict[str, Any]:
        version, styles = active_styles()
        # Only previews named for a style can select one; an admin may have added others.
        previews = [p for p in version.previews.all() if p.label in styles] if version else []
        return {"fast_style_version": version, "style_previews": previews, "no_model": NO_MODEL}

    def params(self, cleaned_data: dict[str, Any]) -> dict[str, Any]:
        # The resolved weights, not the raw style/blend text: what ran, in one shape for both.
        return {"styles": cleaned_data["styles"], "max_side": cleaned_data["max_side"],
                "preserve_colors": bool(cleaned_data.get("preserve_colors"))}

    def run(self, ctx: RunContext) -> ToolOutput:
        from ml.common.device import pick_device
        from ml.fast_style.infer import stylize_fast

        photo = load_image(ctx.inputs["photo"])
        weights = {str(k): float(v) for k, v in ctx.params["styles"].items()}
        max_side, preserve = int(ctx.params["max_side"]), bool(ctx.params.get("preserve_colors"))
        device = pick_device()
        loaded = load_style_network(device)
        ctx.progress.update(0, 1, loaded.status())
        check_cancelled(ctx.progress)
        started = time.perf_counter()
        # A style the active version lacks (it changed since submit) is a ValueError: the job fails
        # with its message, which names the known styles.
        image = stylize_fast(loaded.model, photo, style_weights=weights, max_side=max_side,
                             preserve_colors=preserve, device=device)
        seconds = time.perf_counter() - started
        ctx.progress.update(1, 1, f"Stylized {image.width}x{image.height} in {seconds:.2f} s",
                            preview=image)
        record = lineage(self.slug, ctx.params, model=loaded)
        summary = {"styles": weights, "size": [image.width, image.height], "max_side": max_side,
                   "preserve_colors": preserve, "device": str(device), "seconds": round(seconds, 3)}
        return ToolOutput(files=[png_output("fast-style.png", image, record)], summary=summary,
                          model=loaded)
