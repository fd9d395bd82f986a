"""pytorch/examples dcgan/main.py's ``Generator``, with its module structure (so the same
state_dict keys), and a small one with random weights and batch-norm statistics."""

from __future__ import annotations

import torch
from torch import nn


class ReferenceGenerator(nn.Module):  # pytorch/examples dcgan/main.py, verbatim structure
    def __init__(self, ngpu: int, nz: int, ngf: int, nc: int) -> None:
        super().__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.main(input)


NZ, NGF, NC = 16, 8, 3


def reference(seed: int = 0) -> ReferenceGenerator:
    """Random weights and random batch-norm statistics, so eval mode is really exercised."""
    torch.manual_seed(seed)
    net = ReferenceGenerator(0, NZ, NGF, NC)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.2)
            m.running_mean.normal_(0, 0.2)  # type: ignore[operator]
            m.running_var.uniform_(0.5, 2.0)  # type: ignore[operator]
            m.num_batches_tracked.fill_(7)  # type: ignore[operator]
    return net.eval()
