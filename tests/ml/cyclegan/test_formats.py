"""CycleGAN: public generator files import into studio checkpoints that reproduce the original outputs
of the reference generators (tests/ml/cyclegan/reference.py: junyanz's and vintagify's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ml.common.checkpoint import CheckpointError
from ml.common.family import config_from_dict, validate
from ml.cyclegan.config import CycleGANConfig
from ml.cyclegan.family import FAMILY
from ml.cyclegan.formats import import_cyclegan
from ml.cyclegan.infer import translate
from ml.cyclegan.model import ResnetGenerator
from ml.families import get_family
from tests.ml.conftest import Spoil, dropped, gradient_image, poisoned, replaced, validation_errors
from tests.ml.cyclegan.reference import (
    BLOCKS,
    NGF,
    JunyanzResnetGenerator,
    VintagifyResnetGenerator,
    get_norm_layer,
    randomize,
)


def with_stale_instance_norm_stats(net: nn.Module) -> dict[str, torch.Tensor]:
    """A junyanz file saved by PyTorch 0.3/0.4, whose InstanceNorm kept running stats in the state_dict."""
    sd = dict(net.state_dict())
    for name, m in net.named_modules():
        if isinstance(m, nn.InstanceNorm2d):
            sd[f"{name}.running_mean"] = torch.zeros(m.num_features)
            sd[f"{name}.running_var"] = torch.ones(m.num_features)
            sd[f"{name}.num_batches_tracked"] = torch.tensor(0)
    return sd


def junyanz(norm: str = "instance", affine: bool = False, dropout: bool = False) -> nn.Module:
    return randomize(JunyanzResnetGenerator(3, 3, NGF, get_norm_layer(norm, affine), dropout, BLOCKS))


CASES: dict[str, tuple[Any, Any, dict[str, Any]]] = {
    # name: (reference net, how its file stores the state_dict, expected config differences)
    "junyanz latest_net_G_A.pth": (lambda: junyanz(), lambda n: n.state_dict(), {}),
    "junyanz with stale InstanceNorm stats": (lambda: junyanz(), with_stale_instance_norm_stats, {}),
    "junyanz affine InstanceNorm": (lambda: junyanz(affine=True), lambda n: n.state_dict(), {"affine": True}),
    "junyanz DataParallel prefix": (
        lambda: junyanz(), lambda n: {f"module.{k}": v for k, v in n.state_dict().items()}, {}),
    "junyanz with dropout": (lambda: junyanz(dropout=True), lambda n: n.state_dict(), {"use_dropout": True}),
    "junyanz batch norm": (
        lambda: junyanz("batch"), lambda n: n.state_dict(), {"norm": "batch", "affine": True}),
    "vintagify G_A2B": (
        lambda: randomize(VintagifyResnetGenerator(ngf=NGF, n_blocks=BLOCKS)), lambda n: n.state_dict(),
        {"affine": True}),
}


def load(ckpt: dict) -> ResnetGenerator:
    model = ResnetGenerator(config_from_dict(FAMILY, ckpt["config"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


@pytest.mark.parametrize("case", CASES)
def test_it_imports_each_public_layout_with_identical_outputs(case: str, tmp_path: Path) -> None:
    make, stored, differences = CASES[case]
    ref = make()
    torch.save(stored(ref), tmp_path / "latest_net_G.pth")  # the public file, as its trainer wrote it
    ckpt = import_cyclegan(tmp_path / "latest_net_G.pth")
    want = CycleGANConfig(ngf=NGF, n_blocks=BLOCKS, **differences)
    assert config_from_dict(FAMILY, ckpt["config"]) == want
    report = validate(FAMILY, ckpt)
    assert report.ok, report.errors
    assert report.output_shape == (1, 3, 16, 16)
    x = torch.rand(2, 3, 20, 24, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(ref(x), load(ckpt)(x), atol=1e-5, rtol=0)


def test_the_default_generator_has_the_junyanz_keys_and_size() -> None:
    ours = ResnetGenerator(CycleGANConfig())
    theirs = JunyanzResnetGenerator(3, 3, 64, get_norm_layer(), False, 9)
    shapes = {k: v.shape for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == shapes
    keys = set(ours.state_dict())
    for key in ("model.1.weight", "model.4.weight", "model.7.weight", "model.10.conv_block.1.weight",
                "model.18.conv_block.5.weight", "model.19.weight", "model.22.weight", "model.26.weight"):
        assert key in keys
    assert sum(p.numel() for p in ours.parameters()) == 11_378_179
    assert get_family("cyclegan") is FAMILY


def _imported(tmp_path: Path) -> dict:
    torch.save(junyanz().state_dict(), tmp_path / "G.pth")
    return import_cyclegan(tmp_path / "G.pth")


UP = f"model.{10 + BLOCKS}.bias"  # the first transposed conv, after the residual blocks


@pytest.mark.parametrize(("spoil", "error"), [
    (replaced("model.4.weight", torch.zeros(NGF * 2, NGF, 5, 5)),
     "shape mismatch for model.4.weight: checkpoint (16, 8, 5, 5), model (16, 8, 3, 3)"),
    (poisoned("model.11.conv_block.5.bias"), "non-finite values (NaN/inf) in model.11.conv_block.5.bias"),
    (dropped(UP), f"missing keys: {UP}"),
], ids=["wrong shape", "NaN weight", "missing key"])
def test_validate_names_what_is_wrong(tmp_path: Path, spoil: Spoil, error: str) -> None:
    assert validation_errors(FAMILY, _imported(tmp_path), spoil) == [error]


def test_it_refuses_a_file_that_is_not_a_resnet_generator(tmp_path: Path) -> None:
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "linear.pth")
    with pytest.raises(CheckpointError, match="not a CycleGAN ResnetGenerator"):
        import_cyclegan(tmp_path / "linear.pth")


@pytest.mark.parametrize("size", [(37, 53), (64, 48), (2, 3)])
def test_translate_keeps_the_input_size(size: tuple[int, int]) -> None:
    model = ResnetGenerator(CycleGANConfig(ngf=4, n_blocks=1))
    out = translate(model, gradient_image(size))
    assert out.size == size and out.mode == "RGB"


def test_translate_matches_the_generator_on_a_multiple_of_four() -> None:
    model = randomize(ResnetGenerator(CycleGANConfig(ngf=4, n_blocks=1)))
    img = gradient_image((24, 16))
    arr = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        want = ((model(arr * 2 - 1) + 1) / 2).clamp(0, 1)
    got = torch.from_numpy(np.asarray(translate(model, img), dtype=np.float32) / 255)
    assert (got.permute(2, 0, 1)[None] - want).abs().max() <= 1 / 255 + 1e-6


def test_the_starter_vintage_generator_imports_and_validates(vintagify_weights: Path) -> None:
    ckpt = import_cyclegan(vintagify_weights)
    assert config_from_dict(FAMILY, ckpt["config"]) == CycleGANConfig(affine=True)
    report = validate(FAMILY, ckpt)
    assert report.ok, report.errors
    out = translate(load(ckpt), Image.new("RGB", (30, 22), (200, 120, 60)))
    assert out.size == (30, 22)
