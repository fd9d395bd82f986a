"""The DCGAN generator, module for module as pytorch/examples dcgan/main.py and the PyTorch DCGAN
tutorial build it, so their state_dicts (keys main.0.weight ... main.12.weight) load unchanged.

Radford et al. 2016, section 3: fractionally-strided convolutions, batch norm after every layer but
the output, ReLU inside, tanh at the output.
"""

from __future__ import annotations

import torch
from torch import nn

from ml.dcgan.config import DCGANConfig


class Generator(nn.Module):
    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        nz, ngf, nc = cfg.nz, cfg.ngf, cfg.nc
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),  # (B, ngf*8, 4, 4)
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),  # (B, ngf*4, 8, 8)
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),  # (B, ngf*2, 16, 16)
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),  # (B, ngf, 32, 32)
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),  # (B, nc, 64, 64)
            nn.Tanh(),
        )

    @property
    def nz(self) -> int:
        first = self.main[0]
        assert isinstance(first, nn.ConvTranspose2d)
        return first.in_channels

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, nz, 1, 1) -> (B, nc, 64, 64) in [-1, 1]
        out: torch.Tensor = self.main(z)
        return out
