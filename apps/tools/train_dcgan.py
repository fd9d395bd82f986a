"""Train a DCGAN on your own images (a zip), at 32 or 64 px; the result is a draft "dcgan" version."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from django import forms

from ml.common.image_zip import RESIZE_MODES, prepare_image
from ml.common.training import TrainResult
from ml.dcgan.config import IMAGE_SIZES, TrainConfig

from .context import JobProgress
from .fields import ImageZipField
from .training import TrainingForm, TrainingTool, log_skipped, read_zip


class TrainDCGANForm(TrainingForm):
    images = ImageZipField(label="Training images (zip)",
                           help_text="Any sizes, made square as chosen below. Hundreds or more: a GAN "
                                     "needs many examples.")
    image_size = forms.TypedChoiceField(label="Image size", coerce=int, initial=32, required=False,
                                        choices=[(s, f"{s} px") for s in IMAGE_SIZES])
    resize_mode = forms.ChoiceField(label="Make square by", choices=[(m, m) for m in RESIZE_MODES],
                                    initial="center-crop", required=False)
    epochs = forms.IntegerField(min_value=1, max_value=1000, initial=5, required=False)
    batch_size = forms.IntegerField(min_value=1, max_value=512, initial=64, required=False)
    lr = forms.FloatField(label="Learning rate", min_value=1e-6, max_value=1e-1, initial=2e-4,
                          required=False)
    ngf = forms.IntegerField(label="Generator width", min_value=8, max_value=256, initial=64, required=False,
                             help_text="Feature maps of its last hidden layer; 64 is the paper's. "
                                       "Halving it makes training about four times cheaper.")
    ndf = forms.IntegerField(label="Discriminator width", min_value=8, max_value=256, initial=64,
                             required=False)
    sample_every = forms.IntegerField(label="Preview every (steps)", min_value=1, max_value=100_000,
                                      initial=50, required=False)
    field_order = ["images", "image_size", "resize_mode", "epochs", "batch_size", "lr", "ngf", "ndf",
                   "sample_every",
                   "name", "seed", "dry_run"]


class TrainDCGANTool(TrainingTool):
    slug = "train-dcgan"
    title = "Train a DCGAN"
    description = ("Train a DCGAN generator on a zip of your images (32 or 64 px). Losses and a "
                   "sample grid stream while it trains; it can be cancelled and resumed; the "
                   "generator becomes a draft DCGAN version an admin can activate.")
    family = "dcgan"
    form_class = TrainDCGANForm
    chart_keys = ("loss_d", "loss_g", "d_x", "d_g_z")

    def train(self, params: dict[str, Any], inputs: dict[str, bytes], progress: JobProgress,
              state: Path) -> TrainResult:
        from ml.common.device import pick_device
        from ml.dcgan.training import train

        cfg = TrainConfig(image_size=params["image_size"], epochs=params["epochs"], ngf=params["ngf"],
                          ndf=params["ndf"],
                          batch_size=params["batch_size"], lr=params["lr"], seed=params["seed"],
                          sample_every=params["sample_every"], checkpoint_every=200,
                          resize_mode=params["resize_mode"], dry_run=params["dry_run"])
        progress.update(0, 0, "reading the images")
        # Each image is made square as it is decoded: one full-size photo in memory at a time.
        found = read_zip(inputs["images"], "Training images",
                         transform=partial(prepare_image, size=cfg.image_size, mode=cfg.resize_mode))
        log_skipped(progress, found, "Training images")
        return train(cfg, found.images, progress, checkpoint_path=state, resume=True, device=pick_device())
