"""DCGAN sampling: a grid of generated 64x64 faces from a seed, or a latent walk from one seed's
face to another's (a strip and an animated GIF). Inference only, with the catalog's active DCGAN."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from django import forms

from apps.catalog.loading import LoadedModel, load_active
from ml.common.images import tensor_to_image

from .base import OutputFile, Tool, ToolOutput, checked_params
from .context import RunContext
from .lineage import lineage, png_output

if TYPE_CHECKING:
    import torch

    from ml.dcgan.model import Generator

MAX_SEED = 2**31 - 1
MAX_SINGLES = 64  # single-sample files per grid job; beyond that, the grid alone
GIF_FRAME_MS = 120
GIF_SCALE = 2  # 64 px frames are tiny in a browser
# The fields each mode reads; the other mode's fields are left out of the job's parameters.
MODE_FIELDS = {"grid": ("n", "seed"), "walk": ("seed_a", "seed_b", "steps", "gif")}


def _seed_field(label: str, initial: int, help_text: str) -> forms.IntegerField:
    return forms.IntegerField(label=label, min_value=0, max_value=MAX_SEED, initial=initial,
                              required=False, help_text=help_text)


class DCGANForm(forms.Form):
    mode = forms.ChoiceField(choices=[("grid", "Grid of samples"), ("walk", "Latent walk between two seeds")],
                             initial="grid")
    n = forms.IntegerField(label="Images", min_value=1, max_value=256, initial=64, required=False,
                           help_text="Grid: how many images (1 to 256).")
    seed = _seed_field("Seed", 0, "Grid: the same seed gives the same images.")
    seed_a = _seed_field("From seed", 1, "Walk: the first frame is this seed's image.")
    seed_b = _seed_field("To seed", 2, "Walk: the last frame is this seed's image.")
    steps = forms.IntegerField(label="Frames", min_value=2, max_value=64, initial=8, required=False,
                               help_text="Walk: frames from the first image to the last, both included.")
    gif = forms.BooleanField(label="Also an animated GIF", required=False, initial=True,
                             help_text="Walk: plays forward and back, looping.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The chosen mode's number fields may be left blank: they take their initial value.
        for name in MODE_FIELDS.get(data.get("mode", ""), ()):
            if data.get(name) is None and name not in self.errors:
                data[name] = self.fields[name].initial
        return data


def load_generator(device: torch.device) -> LoadedModel[Generator]:
    """The active (or pinned) DCGAN generator on ``device``, cached by the process."""
    from ml.dcgan.infer import load

    # Validated when the version was added; loading checks the bytes are still those.
    return load_active("dcgan", lambda ckpt: load(ckpt, device, validate=False), purpose=str(device))


class DCGANTool(Tool):
    slug = "dcgan"
    family = "dcgan"
    title = "DCGAN faces"
    description = ("Generate 64x64 images with the catalog's DCGAN (Radford et al.): a grid from a "
                   "seed, or a latent walk from one seed's image to another's (a strip and an "
                   "animated GIF). Generated faces are research/demo output, not for commercial use: "
                   "the starter faces model was trained on DigiFace-1M under a research licence.")
    queue = "gpu"
    form_class = DCGANForm

    def params(self, cleaned_data: dict[str, Any]) -> dict[str, Any]:
        mode = cleaned_data["mode"]
        return {"mode": mode, **{name: cleaned_data[name] for name in MODE_FIELDS[mode]}}

    def run(self, ctx: RunContext) -> ToolOutput:
        from ml.common.device import pick_device
        from ml.dcgan.infer import grid, latent_walk, sample, square_nrow, strip, walk_gif

        # Stored parameters go through the same checks as the submit form (a rerun, an old job).
        p = self.params(checked_params(DCGANForm, ctx.params))
        device = pick_device()
        loaded = load_generator(device)
        total = p["n"] if p["mode"] == "grid" else p["steps"]
        ctx.progress.update(0, total, loaded.status())
        t0 = time.monotonic()
        if p["mode"] == "grid":
            images = sample(loaded.model, p["n"], p["seed"], device, progress=ctx.progress)
            record = lineage(self.slug, p, seed=p["seed"], model=loaded)
            nrow = square_nrow(p["n"])
            files = [png_output("grid.png", grid(images, nrow=nrow), record)]
            # Each image also on its own, so one face can be downloaded without cutting up the grid.
            files += [png_output(f"sample-{i:03d}.png", tensor_to_image(image), {**record, "index": i})
                      for i, image in enumerate(images[:MAX_SINGLES])]
            summary: dict[str, Any] = {"mode": "grid", "images": p["n"], "seed": p["seed"], "nrow": nrow,
                                       "singles": min(p["n"], MAX_SINGLES)}
        else:
            seeds = [p["seed_a"], p["seed_b"]]
            frames = latent_walk(loaded.model, p["seed_a"], p["seed_b"], p["steps"], device,
                                 progress=ctx.progress)
            record = lineage(self.slug, p, seed=p["seed_a"], model=loaded, seeds=seeds)
            files = [png_output("walk-strip.png", strip(frames), record)]
            if p["gif"]:  # GIF has no lineage chunk; the strip and the job record it
                gif = walk_gif(frames, GIF_FRAME_MS, GIF_SCALE, pingpong=True)
                files.append(OutputFile("walk.gif", gif, "image/gif"))
            summary = {"mode": "walk", "seeds": seeds, "frames": p["steps"], "gif": p["gif"]}
        summary.update(device=str(device), seconds=round(time.monotonic() - t0, 3))
        return ToolOutput(files=files, summary=summary, model=loaded)
