"""Train a CycleGAN on two unpaired image sets (zips for domain A and domain B); the A -> B generator
becomes a draft "cyclegan" version (the B -> A one rides along in its checkpoint)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from django import forms

from ml.common.image_zip import RESIZE_MODES, prepare_image
from ml.common.training import TrainResult
from ml.cyclegan.config import TrainConfig

from .context import JobProgress
from .fields import ImageZipField
from .training import TrainingForm, TrainingTool, log_skipped, read_zip


def _int(label: str, low: int, high: int, initial: int, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(label=label, min_value=low, max_value=high, initial=initial, required=False,
                              help_text=help_text)


class TrainCycleGANForm(TrainingForm):
    images_a = ImageZipField(label="Domain A images (zip)", help_text="e.g. photos")
    images_b = ImageZipField(label="Domain B images (zip)",
                             help_text="e.g. paintings; unpaired: no image needs a partner in A")
    image_size = _int("Image size", 32, 512, 128, "Crop side in pixels (a multiple of 4). The paper "
                      "trains at 256 with 9 residual blocks; 128 with 6 is four times cheaper.")
    n_blocks = _int("Residual blocks", 1, 12, 6)
    ngf = _int("Generator width", 8, 128, 64)
    ndf = _int("Discriminator width", 8, 128, 64)
    epochs = _int("Epochs", 1, 1000, 5, "At the full learning rate (an epoch: one pass over the larger set).")
    epochs_decay = _int("Decay epochs", 0, 1000, 5, "Then the learning rate falls linearly to 0.")
    batch_size = _int("Batch size", 1, 64, 1)
    lr = forms.FloatField(label="Learning rate", min_value=1e-6, max_value=1e-1, initial=2e-4, required=False)
    lambda_cycle = forms.FloatField(label="Cycle weight", min_value=0, max_value=100, initial=10.0,
                                    required=False)
    lambda_identity = forms.FloatField(label="Identity weight", min_value=0, max_value=10, initial=0.5,
                                       required=False, help_text="As a fraction of the cycle weight.")
    resize_mode = forms.ChoiceField(label="Make square by", choices=[(m, m) for m in RESIZE_MODES],
                                    initial="center-crop", required=False)
    sample_every = _int("Preview every (steps)", 1, 100_000, 100)
    field_order = ["images_a", "images_b", "image_size", "n_blocks", "ngf", "ndf", "epochs", "epochs_decay",
                   "batch_size", "lr", "lambda_cycle", "lambda_identity", "resize_mode", "sample_every",
                   "name", "seed", "dry_run"]

    def clean_image_size(self) -> int | None:
        size = self.cleaned_data.get("image_size")
        if size is not None and size % 4:
            raise forms.ValidationError("Use a multiple of 4 (the generator halves the size twice).")
        return size


class TrainCycleGANTool(TrainingTool):
    slug = "train-cyclegan"
    title = "Train a CycleGAN"
    description = ("Train a CycleGAN (Zhu et al. 2017) on two unpaired sets of images: ResNet "
                   "generators, PatchGAN discriminators, LSGAN + cycle + identity losses. Losses and "
                   "before/after previews stream while it trains; it can be cancelled and resumed; "
                   "the A→B generator becomes a draft CycleGAN version an admin can activate.")
    family = "cyclegan"
    form_class = TrainCycleGANForm
    chart_keys = ("loss_g_a", "loss_g_b", "loss_d_a", "loss_d_b", "loss_cycle_a", "loss_cycle_b")

    def train(self, params: dict[str, Any], inputs: dict[str, bytes], progress: JobProgress,
              state: Path) -> TrainResult:
        from ml.common.device import pick_device
        from ml.cyclegan.training import train

        settings = ("image_size", "n_blocks", "ngf", "ndf", "epochs", "epochs_decay", "batch_size", "lr",
                    "lambda_cycle", "lambda_identity", "resize_mode", "sample_every", "seed", "dry_run")
        cfg = TrainConfig(**{k: params[k] for k in settings}, report_every=10, checkpoint_every=200)
        progress.update(0, 0, "reading the images")
        # Made square at the load size as they are decoded; the trainer takes random crops of them.
        square = partial(prepare_image, size=cfg.load_size, mode=cfg.resize_mode)
        found_a = read_zip(inputs["images_a"], "Domain A images", transform=square)
        found_b = read_zip(inputs["images_b"], "Domain B images", transform=square)
        log_skipped(progress, found_a, "Domain A images")
        log_skipped(progress, found_b, "Domain B images")
        return train(cfg, found_a.images, found_b.images, progress, checkpoint_path=state, resume=True,
                     device=pick_device())
