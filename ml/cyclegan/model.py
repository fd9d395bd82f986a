"""The CycleGAN ResnetGenerator, module for module as junyanz/pytorch-CycleGAN-and-pix2pix
models/networks.py builds it (padding_type "reflect"), so its state_dicts load unchanged.

Zhu et al. 2017, appendix 7.2 (after Johnson et al. 2016): c7s1-64, d128, d256, R256 x n_blocks,
u128, u64, c7s1-3, tanh. For 9 blocks the weighted layers sit at model.1, model.4, model.7,
model.10-18 (conv_block.1 / conv_block.5), model.19, model.22 and model.26.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from ml.cyclegan.config import CycleGANConfig

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
