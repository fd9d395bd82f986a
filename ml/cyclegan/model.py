"""The CycleGAN networks, module for module as junyanz/pytorch-CycleGAN-and-pix2pix models/networks.py
builds them, so their state_dicts load both ways.

``ResnetGenerator`` (padding_type "reflect"): Zhu et al. 2017, appendix 7.2 (after Johnson et al.
2016): c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3, tanh. For 9 blocks the weighted
layers sit at model.1, model.4, model.7, model.10-18 (conv_block.1 / conv_block.5), model.19,
model.22 and model.26.

``NLayerDiscriminator``, a PatchGAN used only in training: Zhu et al. 2017, appendix 7.2 (after
Isola et al. 2017): C64 (no norm), C128, C256, C512, then a conv to one channel; LeakyReLU 0.2. With
``n_layers`` 3 each output sees a 70x70 patch of the input, and a 256x256 image gives a 30x30 map
of real/fake scores (no sigmoid: the LSGAN loss takes raw scores). For n_layers 3 the weighted
layers sit at model.0, model.2, model.5, model.8 and model.11; instance norm (affine=False, the
CycleGAN default) has no weights, so convs carry a bias.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ml.cyclegan.config import NORMS, CycleGANConfig

NormLayer = Callable[[int], nn.Module]


def norm_layer(cfg: CycleGANConfig) -> NormLayer:
    if cfg.norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    return functools.partial(nn.InstanceNorm2d, affine=cfg.affine, track_running_stats=False)


class ResnetBlock(nn.Module):
    """x + F(x), F = pad, conv3, norm, relu, [dropout], pad, conv3, norm (key names conv_block.N)."""

    def __init__(self, dim: int, norm: NormLayer, use_dropout: bool, use_bias: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
            norm(dim),
            nn.ReLU(True),
        ]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
            norm(dim),
        ]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = x + self.conv_block(x)
        return out


class ResnetGenerator(nn.Module):
    def __init__(self, cfg: CycleGANConfig) -> None:
        super().__init__()
        norm = norm_layer(cfg)
        use_bias = cfg.norm == "instance"  # batch norm has its own shift, instance norm may not
        ngf = cfg.ngf
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(cfg.input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),  # (B, ngf, H, W)
            norm(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):  # downsample: (B, 2ngf, H/2, W/2), (B, 4ngf, H/4, W/4)
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                norm(ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4, norm, cfg.use_dropout, use_bias) for _ in range(cfg.n_blocks)]
        for i in range(2):  # upsample back to (B, ngf, H, W) when H and W are multiples of 4
            mult = 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, kernel_size=3, stride=2, padding=1,
                                   output_padding=1, bias=use_bias),
                norm(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, cfg.output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, in, H, W) in [-1, 1] -> (B, out, H, W)
        out: torch.Tensor = self.model(x)
        return out


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance") -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
        if n_layers < 1 or ndf < 1:
            raise ValueError(f"need n_layers >= 1 and ndf >= 1, got {n_layers} and {ndf}")
        norm_layer = (functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
                      if norm == "batch" else
                      functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False))
        use_bias = norm == "instance"  # batch norm has its own shift, instance norm (affine=False) none
        kw, padw = 4, 1
        layers: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw),  # (B, ndf, H/2, W/2)
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers):  # each halves the sides; width doubles, at most 8 * ndf
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, kernel_size=kw, stride=2, padding=padw, bias=use_bias),
                norm_layer(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [  # stride 1 from here: sides shrink by 1 per conv
            nn.Conv2d(ndf * prev, ndf * mult, kernel_size=kw, stride=1, padding=padw, bias=use_bias),
            norm_layer(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, kernel_size=kw, stride=1, padding=padw),  # one score per patch
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, in, H, W) -> (B, 1, H', W') raw scores
        out: torch.Tensor = self.model(x)
        return out


@dataclass
class CycleNets:
    """The four networks a CycleGAN trains; only G_A (and G_B beside it) are kept afterwards."""

    g_a: ResnetGenerator  # A -> B
    g_b: ResnetGenerator  # B -> A
    d_a: NLayerDiscriminator  # real B vs G_A(A)
    d_b: NLayerDiscriminator  # real A vs G_B(B)

    def all(self) -> tuple[nn.Module, ...]:
        return self.g_a, self.g_b, self.d_a, self.d_b


def init_weights(module: nn.Module, rng: torch.Generator) -> None:
    """junyanz init_weights(init_type="normal", init_gain=0.02): conv weights from N(0, 0.02) and
    biases 0, batch-norm scales from N(1, 0.02); drawn from ``rng``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02, generator=rng)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02, generator=rng)
            nn.init.zeros_(m.bias)
