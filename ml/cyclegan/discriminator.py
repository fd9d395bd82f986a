"""The CycleGAN discriminator: a PatchGAN, module for module as junyanz/pytorch-CycleGAN-and-pix2pix
models/networks.py builds ``NLayerDiscriminator``, so its state_dicts load both ways.

Zhu et al. 2017, appendix 7.2 (after Isola et al. 2017): C64 (no norm), C128, C256, C512, then a
conv to one channel; LeakyReLU 0.2. With ``n_layers`` 3 each output sees a 70x70 patch of the input,
and a 256x256 image gives a 30x30 map of real/fake scores (no sigmoid: the LSGAN loss takes raw
scores). For n_layers 3 the weighted layers sit at model.0, model.2, model.5, model.8 and model.11;
instance norm (affine=False, the CycleGAN default) has no weights, so convs carry a bias.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

NORMS = ("instance", "batch")


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
