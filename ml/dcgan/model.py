"""The DCGAN generator and discriminator, module for module as pytorch/examples dcgan/main.py and
the PyTorch DCGAN tutorial build them at 64x64, so their state_dicts load unchanged: generator keys
main.0.weight ... main.12.weight, discriminator keys main.0.weight ... main.11.weight.

Radford et al. 2016, section 3: (fractionally-)strided convolutions instead of pooling, batch norm
after every layer but the generator's output and the discriminator's input, ReLU in the generator
with tanh at its output, LeakyReLU(0.2) in the discriminator.

At 32x32 both nets are the same design one block shorter (the generator starts from ngf * 4 feature
maps instead of ngf * 8, the discriminator stops at ndf * 4), so the keys run main.0 ... main.9
(generator) and main.0 ... main.8 (discriminator).
"""

from __future__ import annotations

import torch
from torch import nn

from ml.dcgan.config import DCGANConfig


def _blocks(image_size: int) -> int:
    """Stride-2 blocks between the 4x4 core and the image, not counting the outermost layer:
    3 at 64 px (4 -> 8 -> 16 -> 32, then the output layer to 64), 2 at 32 px."""
    return image_size.bit_length() - 4  # log2(image_size) - 3


class Generator(nn.Module):
    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        nz, ngf, nc = cfg.nz, cfg.ngf, cfg.nc
        mult = 2 ** _blocks(cfg.image_size)  # 8 at 64 px: the reference's ngf * 8
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(nz, ngf * mult, 4, 1, 0, bias=False),  # (B, ngf*mult, 4, 4)
            nn.BatchNorm2d(ngf * mult),
            nn.ReLU(True),
        ]
        while mult > 1:  # each block doubles the side and halves the feature maps
            layers += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * mult // 2),
                nn.ReLU(True),
            ]
            mult //= 2
        layers += [
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),  # (B, nc, image_size, image_size)
            nn.Tanh(),
        ]
        self.main = nn.Sequential(*layers)

    @property
    def nz(self) -> int:
        first = self.main[0]
        assert isinstance(first, nn.ConvTranspose2d)
        return first.in_channels

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, nz, 1, 1) -> (B, nc, S, S) in [-1, 1]
        out: torch.Tensor = self.main(z)
        return out


class Discriminator(nn.Module):
    """The probability that each image is real: (B, nc, S, S) in [-1, 1] -> (B,) in (0, 1).

    Ends in a sigmoid as the reference does (trained with BCELoss), so its outputs are the D(x) and
    D(G(z)) that DCGAN training reports. ``ndf`` is the first layer's feature maps; only training
    needs this net, so its width lives in the training config, not in DCGANConfig.
    """

    def __init__(self, cfg: DCGANConfig, ndf: int = 64) -> None:
        super().__init__()
        if ndf < 1:
            raise ValueError("ndf must be positive")
        layers: list[nn.Module] = [
            nn.Conv2d(cfg.nc, ndf, 4, 2, 1, bias=False),  # (B, ndf, S/2, S/2); no batch norm here
            nn.LeakyReLU(0.2, inplace=True),
        ]
        mult = 1
        for _ in range(_blocks(cfg.image_size)):  # each block halves the side, doubles the maps
            layers += [
                nn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * mult * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            mult *= 2
        layers += [
            nn.Conv2d(ndf * mult, 1, 4, 1, 0, bias=False),  # (B, 1, 1, 1): the 4x4 core to one number
            nn.Sigmoid(),
        ]
        self.main = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.main(images)
        return out.view(-1)
