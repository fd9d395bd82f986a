"""TransformerNet import: a pytorch/examples-structured reference, saved the old way, loads unchanged."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ml.common.family import validate
from ml.fast_style.family import FAST_STYLE
from ml.fast_style.formats import import_transformer_net
from ml.fast_style.infer import load as load_fast_style
from tests.ml.fast_style.reference import RefTransformerNet, reference, save_old_style


def test_it_has_the_reference_parameter_count() -> None:
    count = sum(p.numel() for p in FAST_STYLE.build(FAST_STYLE.config_class()).parameters())
    assert count == sum(p.numel() for p in RefTransformerNet().parameters()) == 1_679_235


def test_it_imports_an_old_examples_checkpoint(tmp_path: Path) -> None:
    ref = reference()
    save_old_style(ref, tmp_path / "mosaic.pth")
    ckpt = import_transformer_net(tmp_path / "mosaic.pth")
    assert ckpt["family"] == "fast-style"
    assert ckpt["config"] == {"kind": "transformer-net", "styles": ["mosaic"], "n_styles": 1}
    assert not any("running" in k or k.startswith("module.") for k in ckpt["state_dict"])
    assert validate(FAST_STYLE, ckpt).errors == []
    model = load_fast_style(ckpt)
    x = torch.rand(1, 3, 48, 40) * 255
    with torch.inference_mode():
        assert torch.allclose(model.net(x), ref(x), atol=1e-3, rtol=1e-4)


def test_validate_catches_wrong_shapes_and_nan(tmp_path: Path) -> None:
    save_old_style(reference(), tmp_path / "s.pth")
    ckpt = import_transformer_net(tmp_path / "s.pth")
    bad_shape = {**ckpt, "state_dict": {**ckpt["state_dict"], "in1.weight": torch.ones(16)}}
    report = validate(FAST_STYLE, bad_shape)
    assert report.errors == ["shape mismatch for in1.weight: checkpoint (16,), model (32,)"]
    nan = {**ckpt, "state_dict": {**ckpt["state_dict"], "conv1.conv2d.bias": torch.full((32,), math.nan)}}
    assert validate(FAST_STYLE, nan).errors == ["non-finite values (NaN/inf) in conv1.conv2d.bias"]
    wrong_kind = {**ckpt, "config": {**ckpt["config"], "kind": "multistyle"}}
    missing, unexpected = validate(FAST_STYLE, wrong_kind).errors  # the other net's keys
    assert missing.startswith("missing keys: contract.0.norm.beta") and missing.endswith("(54 in all)")
    assert unexpected.startswith("unexpected keys: conv1.conv2d.bias, conv1.conv2d.weight")
