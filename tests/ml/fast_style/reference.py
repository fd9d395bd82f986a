"""pytorch/examples' fast_neural_style TransformerNet, copied with its module structure (so its
state_dict keys), and a checkpoint saved the old way: the public format the studio imports."""

from __future__ import annotations

from pathlib import Path

import torch


# --- reference: pytorch/examples fast_neural_style/neural_style/transformer_net.py, copied ---
class RefConvLayer(torch.nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride):
        super().__init__()
        self.reflection_pad = torch.nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class RefResidualBlock(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = RefConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in1 = torch.nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = RefConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in2 = torch.nn.InstanceNorm2d(channels, affine=True)
        self.relu = torch.nn.ReLU()

    def forward(self, x):
        residual = x
        out = self.relu(self.in1(self.conv1(x)))
        out = self.in2(self.conv2(out))
        return out + residual


class RefUpsampleConvLayer(torch.nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = torch.nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        x_in = x
        if self.upsample:
            x_in = torch.nn.functional.interpolate(x_in, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x_in))


class RefTransformerNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = RefConvLayer(3, 32, kernel_size=9, stride=1)
        self.in1 = torch.nn.InstanceNorm2d(32, affine=True)
        self.conv2 = RefConvLayer(32, 64, kernel_size=3, stride=2)
        self.in2 = torch.nn.InstanceNorm2d(64, affine=True)
        self.conv3 = RefConvLayer(64, 128, kernel_size=3, stride=2)
        self.in3 = torch.nn.InstanceNorm2d(128, affine=True)
        self.res1 = RefResidualBlock(128)
        self.res2 = RefResidualBlock(128)
        self.res3 = RefResidualBlock(128)
        self.res4 = RefResidualBlock(128)
        self.res5 = RefResidualBlock(128)
        self.deconv1 = RefUpsampleConvLayer(128, 64, kernel_size=3, stride=1, upsample=2)
        self.in4 = torch.nn.InstanceNorm2d(64, affine=True)
        self.deconv2 = RefUpsampleConvLayer(64, 32, kernel_size=3, stride=1, upsample=2)
        self.in5 = torch.nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = RefConvLayer(32, 3, kernel_size=9, stride=1)
        self.relu = torch.nn.ReLU()

    def forward(self, X):
        y = self.relu(self.in1(self.conv1(X)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def reference(seed: int = 0) -> RefTransformerNet:
    torch.manual_seed(seed)
    net = RefTransformerNet().eval()
    with torch.no_grad():  # IN affine params start at 1/0; randomise so a swapped key would show
        for name, p in net.named_parameters():
            if name.split(".")[-2].startswith("in"):
                p.copy_(
                    1 + 0.2 * torch.randn_like(p) if name.endswith("weight") else 0.2 * torch.randn_like(p)
                )
    return net


def save_old_style(net: torch.nn.Module, path: Path) -> None:
    """As a DataParallel, pre-0.4 PyTorch run would have saved it: module. prefix, IN running stats."""
    state = {}
    for key, value in net.state_dict().items():
        state[f"module.{key}"] = value
        if key.endswith(".weight") and key.split(".")[-2].startswith("in"):
            stem = key[: -len("weight")]
            state[f"module.{stem}running_mean"] = torch.zeros_like(value)
            state[f"module.{stem}running_var"] = torch.ones_like(value)
            state[f"module.{stem}num_batches_tracked"] = torch.tensor(0)
    torch.save(state, path)
