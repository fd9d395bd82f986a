"""Winograd F(4x4, 3x3) for a stride-1 3x3 convolution on the CPU (Lavin & Gray 2016, "Fast
Algorithms for Convolutional Neural Networks").

oneDNN already runs direct 3x3 convolutions near two cores' peak; Winograd needs 4x fewer
multiplies, done as batched GEMMs over 6x6 input tiles. The CycleGAN generator's residual trunk
(18 such convolutions at 256 channels, two thirds of its time) runs 0.53x its plain forward's time
with it (ml/cyclegan/infer.py, bench/image_tools.py). PyTorch's own Winograd path (NNPACK) failed
here. The cost: each convolution keeps its transformed weights, 4x the size of its own (36 / 9).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Lavin & Gray 2016, F(4x4, 3x3): Y = A^T [(G g G^T) * (B^T d B)] A over 6x6 input tiles.
_BT = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
       [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
_G = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]
_AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
TILE = 4  # output pixels per tile side
# Tiles per step: the step's transformed tiles (36 x tiles x 256 floats, ~2.4 MB) stay in cache
# between the three GEMMs; one step for the whole map was 1.7x slower at 512 px.
CHUNK_TILES = 64


class WinogradConv3x3(nn.Module):
    """A stride-1, unpadded 3x3 Conv2d (its weights transformed once) for inputs already padded.
    The bias is dropped: every such conv in the generator feeds an instance norm, which subtracts
    the per-channel mean and so cancels it exactly."""

    u: torch.Tensor  # (36, Cin, Cout): G g G^T, one (Cin, Cout) matrix per tile position
    bk: torch.Tensor
    ak: torch.Tensor

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        g = torch.tensor(_G, dtype=torch.float64)
        # (Cout, Cin, 3, 3) -> (36, Cin, Cout); transformed in float64 so only one rounding is added.
        u = g @ conv.weight.detach().double().cpu() @ g.T
        self.register_buffer("u", u.permute(2, 3, 1, 0).reshape(36, *u.shape[1::-1]).float().contiguous())
        bt, at = torch.tensor(_BT, dtype=torch.float64), torch.tensor(_AT, dtype=torch.float64)
        self.register_buffer("bk", torch.kron(bt, bt).float())  # (36, 36): both sides of B^T d B at once
        self.register_buffer("ak", torch.kron(at, at).float())  # (16, 36)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, H+2, W+2) -> (B, Cout, H, W), NHWC
        b, c, hp, wp = x.shape
        h, w = hp - 2, wp - 2
        extra_h, extra_w = -h % TILE, -w % TILE
        if extra_h or extra_w:  # whole tiles only: zeros below/right, their outputs cropped below
            x = F.pad(x, (0, extra_w, 0, extra_h))
            hp, wp = hp + extra_h, wp + extra_w
        th, tw = (hp - 2) // TILE, (wp - 2) // TILE
        nhwc = x.permute(0, 2, 3, 1).contiguous()  # a view (no copy) when x is channels-last
        cout = self.u.shape[-1]
        out = torch.empty(b, th * TILE, tw * TILE, cout, dtype=x.dtype)
        rows = max(1, CHUNK_TILES // tw)  # tile rows per step
        for i in range(b):
            for r0 in range(0, th, rows):
                r = min(th, r0 + rows) - r0
                # Overlapping 6x6 tiles, 4 px apart, gathered as (36, tiles * Cin) in one copy.
                offset = nhwc.storage_offset() + (i * hp + r0 * TILE) * wp * c
                tiles = nhwc.as_strided((6, 6, r, tw, c), (wp * c, c, TILE * wp * c, TILE * c, 1), offset)
                v = (self.bk @ tiles.reshape(36, -1)).view(36, -1, c)  # (36, tiles, Cin)
                m = torch.bmm(v, self.u)  # (36, tiles, Cout): the 36 elementwise products as GEMMs
                y = (self.ak @ m.view(36, -1)).view(TILE, TILE, r, tw, cout)
                rows_out = out[i, r0 * TILE:(r0 + r) * TILE].view(r, TILE, tw, TILE, cout)
                rows_out.copy_(y.permute(2, 0, 3, 1, 4))
        y = out[:, :h, :w]
        return y.contiguous().permute(0, 3, 1, 2)  # NCHW shape, channels-last memory
