"""Inference on tiny images with random weights: style-weight checks, sizes, colours, the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ml.common.checkpoint import save_checkpoint
from ml.fast_style.config import FastStyleConfig
from ml.fast_style.family import build
from ml.fast_style.infer import FastStyleModel, resolve_style_weights, stylize_fast
from ml.fast_style.infer import load as load_fast_style
from ml.fast_style.predict import main
from tests.ml.conftest import gradient_image


def tiny_multistyle() -> FastStyleModel:
    torch.manual_seed(0)
    config = FastStyleConfig(kind="multistyle", styles=["ink", "oil", "pastel"], n_styles=3)
    net = build(config)
    with torch.no_grad():  # distinct per-style scale/shift so blends differ
        for name, p in net.named_parameters():
            if name.endswith("gamma") or name.endswith("beta"):
                p.copy_(torch.randn_like(p))
    return FastStyleModel(config=config, net=net.eval())


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"watercolour": 1.0}, "unknown style 'watercolour'; known: ink, oil, pastel"),
        ({"ink": 1.0, "oil": -0.5}, "style weight for 'oil' must be a finite number >= 0, got -0.5"),
        ({"ink": 0.0, "oil": 0.0}, "style weights are all zero: give at least one style a positive weight"),
        ({"ink": float("nan")}, "style weight for 'ink' must be a finite number >= 0, got nan"),
        ({}, "style_weights is empty: name at least one style"),
    ],
)
def test_it_rejects_bad_style_weights(weights: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        resolve_style_weights(tiny_multistyle().config, weights)


def test_blend_weights_are_normalised() -> None:
    vec = resolve_style_weights(tiny_multistyle().config, {"ink": 1, "pastel": 3})
    assert vec.tolist() == [0.25, 0.0, 0.75]


@pytest.mark.parametrize("size", [(33, 21), (17, 9), (5, 3), (64, 48)])
def test_output_size_equals_input_size(size: tuple[int, int]) -> None:
    out = stylize_fast(tiny_multistyle(), gradient_image(size), style_weights={"oil": 1}, max_side=512)
    assert out.size == size and out.mode == "RGB"


def test_a_blend_lies_between_its_styles() -> None:
    model, img = tiny_multistyle(), gradient_image((40, 32))
    ink, oil = (np.asarray(stylize_fast(model, img, style_weights={s: 1})) for s in ("ink", "oil"))
    mix = np.asarray(stylize_fast(model, img, style_weights={"ink": 1, "oil": 1}))
    assert not np.array_equal(ink, oil)
    assert not np.array_equal(mix, ink) and not np.array_equal(mix, oil)


def test_preserve_colors_keeps_the_chroma() -> None:
    img, model = gradient_image((48, 40)), tiny_multistyle()

    def chroma_error(out: Image.Image) -> float:
        # RGB clipping after swapping in a new luminance moves chroma a little, so compare with
        # the plain stylization rather than demand an exact match.
        pairs = zip(img.convert("YCbCr").split()[1:], out.convert("YCbCr").split()[1:], strict=True)
        return float(np.mean([np.abs(np.asarray(a, float) - np.asarray(b, float)).mean() for a, b in pairs]))

    kept = chroma_error(stylize_fast(model, img, preserve_colors=True))
    plain = chroma_error(stylize_fast(model, img))
    assert kept < 8 and kept < plain / 3, (kept, plain)


def test_transformer_net_refuses_a_second_style() -> None:
    model = FastStyleModel(
        FastStyleConfig(styles=["mosaic"]), build(FastStyleConfig(styles=["mosaic"])).eval()
    )
    assert stylize_fast(model, gradient_image((23, 19)), style_weights={"mosaic": 1}).size == (23, 19)
    with pytest.raises(ValueError, match="unknown style 'candy'"):
        stylize_fast(model, gradient_image(), style_weights={"candy": 1})


def test_the_cli_stylizes_with_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tiny_multistyle()
    save_checkpoint(
        tmp_path / "m.pt", family="fast-style", config=model.config, state_dict=model.net.state_dict()
    )
    assert load_fast_style(tmp_path / "m.pt").config.styles == ["ink", "oil", "pastel"]
    gradient_image((45, 31)).save(tmp_path / "in.png")
    ckpt = ["--checkpoint", str(tmp_path / "m.pt")]
    assert (
        main([str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--blend", "ink=1,oil=2", *ckpt])
        == 0
    )
    assert Image.open(tmp_path / "out.png").size == (45, 31)
    assert main(["--list-styles", *ckpt]) == 0
    assert capsys.readouterr().out.splitlines()[-3:] == ["ink", "oil", "pastel"]
    assert main([str(tmp_path / "in.png"), "-o", str(tmp_path / "x.png"), "--style", "nope", *ckpt]) == 2
    assert "unknown style 'nope'" in capsys.readouterr().err


def test_the_fused_net_computes_what_the_net_computes() -> None:
    """What stylize_fast runs on the CPU against the net's own forward: odd sizes, a blend, and a
    batch of two images with different blends."""
    from ml.fast_style.infer import FusedMultiStyle, fast_net

    model = tiny_multistyle()
    fused = fast_net(model.net)
    assert isinstance(fused, FusedMultiStyle)
    x = torch.rand(2, 3, 36, 20)
    weights = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    with torch.no_grad():
        want = model.net(x, weights)
        got = fused(x, weights)
    assert (got - want).abs().max() <= 1e-5


def test_stylize_fast_matches_a_plain_forward_of_the_net() -> None:
    """The studio's call (fused copy, inference mode) against eval + no_grad on the net, as
    bench/image_tools.py compares them: the same 8-bit image."""
    from ml.common.images import image_to_tensor, tensor_to_image

    model = tiny_multistyle()
    photo = gradient_image((64, 48))
    blend = {"ink": 1.0, "pastel": 3.0}
    with torch.no_grad():
        weights = resolve_style_weights(model.config, blend)
        want = tensor_to_image(model.net.eval()(image_to_tensor(photo), weights))
    for _ in range(2):  # the second call reuses the copy
        got = stylize_fast(model, photo, style_weights=blend)
        diff = np.abs(np.asarray(got, np.int16) - np.asarray(want, np.int16)).max()
        assert diff <= 1, diff
