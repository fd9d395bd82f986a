"""Photo translation with a CycleGAN generator (Zhu et al. 2017): the catalog's active "cyclegan"
version (the starter turns modern photos vintage), one forward pass, whole or in tiles."""

from __future__ import annotations

import time

from django import forms

from apps.catalog.loading import load_active
from ml.common.images import load_image, resize_max_side
from ml.common.progress import check_cancelled

from .base import Tool, ToolOutput
from .context import RunContext
from .fields import UploadedImageField
from .lineage import lineage, png_output

# "auto" tiles only above this many pixels, i.e. only when memory needs it: each tile normalises
# its own colours (instance norm), which shifted them by 0.06 on average (of 0..1) at 1024x768 in
# 512 px tiles. (At 4 MP one full-size 64-channel float32 activation is already 1 GiB.)
AUTO_TILE_PIXELS = 4 * 1024 * 1024
AUTO_TILE = 512  # the starter was trained at 512 px, so its instance norm sees familiar statistics
OVERLAP = 32


class CycleGANForm(forms.Form):
    photo = UploadedImageField(
        help_text="The photo to translate, by the active CycleGAN model in the direction it was "
                  "trained for (A to B; the starter makes modern photos vintage). A model version "
                  "holds one generator, so B to A is not offered.")
    max_side = forms.IntegerField(min_value=64, max_value=4096, initial=1024, label="Largest side",
                                  help_text="The photo is scaled down to this longest side first "
                                            "(never up); the result has that size.")
    tile = forms.ChoiceField(
        choices=[("auto", "Auto (tiles only over 4 megapixels)"), ("off", "Off: the whole photo at once"),
                 ("256", "256 px tiles"), ("512", "512 px tiles")],
        initial="auto", label="Tiling",
        help_text="Large photos can be translated in overlapping tiles, blended without seams, to "
                  "bound memory. Each tile adapts its colours on its own, so tiles shift them "
                  "somewhat: use tiles only when the whole photo does not fit.")


def tile_size(choice: str, width: int, height: int) -> int | None:
    """The tile side for the form's choice, or None for one pass over the whole photo."""
    if choice == "off" or (choice == "auto" and width * height <= AUTO_TILE_PIXELS):
        return None
    return AUTO_TILE if choice == "auto" else int(choice)


class CycleGANTool(Tool):
    slug = "cyclegan"
    family = "cyclegan"
    title = "Photo translation (CycleGAN)"
    description = ("Translate a photo with the active CycleGAN model; the starter model makes it "
                   "look vintage (warmer, faded, softer contrast).")
    queue = "gpu"
    form_class = CycleGANForm

    def run(self, ctx: RunContext) -> ToolOutput:
        from ml.common.device import pick_device
        from ml.cyclegan.infer import load, tile_spans, translate, translate_tiled

        source = load_image(ctx.inputs["photo"])
        image = resize_max_side(source, int(ctx.params["max_side"]))
        tile = tile_size(ctx.params.get("tile", "auto"), *image.size)
        tiles = 1 if tile is None else (len(tile_spans(image.width, tile, OVERLAP))
                                        * len(tile_spans(image.height, tile, OVERLAP)))
        device = pick_device()
        # Validated when the version was added; loading checks the bytes are still those.
        loaded = load_active("cyclegan", lambda ckpt: load(ckpt, device, validate=False),
                             purpose=str(device))
        ctx.progress.update(0, tiles, loaded.status())
        started = time.monotonic()
        if tile is None:
            check_cancelled(ctx.progress)
            result = translate(loaded.model, image, device)
            ctx.progress.update(1, 1, "Translated")
        else:
            result = translate_tiled(loaded.model, image, tile=tile, overlap=OVERLAP, device=device,
                                     progress=ctx.progress)
        summary = {"size": list(image.size), "input_size": list(source.size), "tiles": tiles,
                   "tile": tile, "device": str(device), "seconds": round(time.monotonic() - started, 2)}
        record = lineage(self.slug, ctx.params, model=loaded)
        return ToolOutput(files=[png_output("translated.png", result, record)], summary=summary,
                          model=loaded)
