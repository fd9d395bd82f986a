"""Train a fast-style network (Johnson et al.) on one style image; photos to train on from a zip,
or scikit-image's sample photos by default. The loss network is the catalog's active style-features
version. The result is a draft one-style "fast-style" version."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from django import forms

from apps.catalog.loading import load_active
from ml.common.bundled_images import BundledImagesMissing, bundled_photos
from ml.common.image_zip import prepare_image
from ml.common.images import load_image
from ml.common.training import TrainResult
from ml.fast_style.config import TrainConfig

from .base import ToolError
from .context import JobProgress
from .fields import ImageZipField, UploadedImageField
from .training import TrainingForm, TrainingTool, log_skipped, read_zip

SETTINGS = ("image_size", "style_size", "steps", "batch_size", "lr", "content_weight", "style_weight",
            "tv_weight", "sample_every", "seed", "dry_run")


def _int(label: str, low: int, high: int, initial: int, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(label=label, min_value=low, max_value=high, initial=initial, required=False,
                              help_text=help_text)


def _float(label: str, low: float, high: float, initial: float, help_text: str = "") -> forms.FloatField:
    return forms.FloatField(label=label, min_value=low, max_value=high, initial=initial, required=False,
                            help_text=help_text)


class TrainFastStyleForm(TrainingForm):
    style = UploadedImageField(label="Style image", help_text="A painting, a texture, a pattern.")
    style_name = forms.CharField(label="Style name", max_length=60, required=False,
                                 help_text="How the style is listed in the fast-style tool (default: the "
                                           "file's name).")
    content = ImageZipField(label="Photos to train on (zip, optional)", required=False,
                            help_text="Default: the sample photos that come with scikit-image (16). "
                                      "More and more varied photos generalise better.")
    steps = _int("Steps", 1, 100_000, 1000,
                    "The example trains ~40,000 steps on COCO; a few hundred already show the style.")
    image_size = _int("Training size", 32, 512, 192,
                         "Side of the training crops in pixels (a multiple of 4). 256 as the paper; smaller "
                         "trains faster and paints bigger brush strokes.")
    style_size = _int("Style size", 32, 1024, 256,
                         "Longer side of the style image for its statistics: smaller gives bigger patterns.")
    batch_size = _int("Batch size", 1, 32, 4)
    lr = _float("Learning rate", 1e-6, 1e-1, 1e-3)
    style_weight = _float("Style weight", 0, 1e4, 5.0, "More style, less photo.")
    content_weight = _float("Content weight", 0, 1e4, 1.0)
    tv_weight = _float("Smoothness weight", 0, 1e4, 1.0)
    sample_every = _int("Preview every (steps)", 1, 100_000, 50)
    field_order = ["style", "style_name", "content", "steps", "image_size", "style_size", "batch_size", "lr",
                   "style_weight", "content_weight", "tv_weight", "sample_every", "name", "seed", "dry_run"]

    def clean_image_size(self) -> int | None:
        size = self.cleaned_data.get("image_size")
        if size is not None and size % 4:
            raise forms.ValidationError("Use a multiple of 4 (the network halves the size twice).")
        return size

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("style_name") and data.get("style") is not None:
            data["style_name"] = Path(data["style"].name).stem[:60] or "style"
        return data


class TrainFastStyleTool(TrainingTool):
    slug = "train-fast-style"
    title = "Train a fast style"
    description = ("Train a feed-forward style network (Johnson et al. 2016) on one style image: "
                   "afterwards it paints any photo in that style in a fraction of a second. The loss "
                   "network is the catalog's feature network. Losses and before/after previews stream "
                   "while it trains; it can be cancelled and resumed; the network becomes a draft "
                   "fast-style version an admin can activate.")
    family = "fast-style"
    form_class = TrainFastStyleForm
    chart_keys = ("total", "content", "style", "tv")

    def params(self, cleaned_data: dict[str, Any]) -> dict[str, Any]:
        params = super().params(cleaned_data)
        params.setdefault("style_name", "style")
        return params

    def train(self, params: dict[str, Any], inputs: dict[str, bytes], progress: JobProgress,
              state: Path) -> TrainResult:
        from ml.common.device import pick_device
        from ml.fast_style.data import photo_side
        from ml.fast_style.training import train
        from ml.features.infer import load as load_features

        cfg = TrainConfig(style_name=params.get("style_name") or "style",
                          **{k: params[k] for k in SETTINGS}, report_every=10, checkpoint_every=100)
        device = pick_device()
        loaded = load_active("style-features", lambda ckpt: load_features(ckpt, device=device)[0],
                             purpose=f"gatys-layers@{device}")
        progress.update(0, 0, f"{loaded.status()}; reading the images")
        style = load_image(inputs["style"])
        square = partial(prepare_image, size=photo_side(cfg.image_size), mode="center-crop")
        if "content" in inputs:
            found = read_zip(inputs["content"], "Photos", transform=square)
            log_skipped(progress, found, "Photos")
            photos = found.images
        else:
            try:
                photos = [square(p) for p in bundled_photos()]
            except BundledImagesMissing as exc:
                raise ToolError(f"No photos uploaded, and {exc}") from exc
        return train(cfg, style, photos, loaded.model, progress, checkpoint_path=state, resume=True,
                     device=device)
