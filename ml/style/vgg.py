"""torchvision VGG19 as a Gatys feature network, with real ImageNet weights found offline first.

Layer choice: the Udacity notebook reads features at conv indices 0, 5, 10, 19, 21, 28, but its
ReLUs are in-place, so what it actually uses are the post-ReLU maps. We tap the ReLU after each conv
explicitly (index + 1) with non-in-place ReLUs: same numbers as Udacity, no aliasing surprises.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import torch
from torch import nn

from ml.common.checkpoint import load_state_dict_file
from ml.style.features import IMAGENET_MEAN, IMAGENET_STD, FeatureNet

VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILE}"
VGG19_LAYERS = {
    "conv1_1": 0,
    "conv2_1": 5,
    "conv3_1": 10,
    "conv4_1": 19,
    "conv4_2": 21,
    "conv5_1": 28,
}


def local_weights_path() -> Path | None:
    """STUDIO_VGG19_WEIGHTS if set and present, else torchvision's file in the torch hub cache."""
    explicit = os.environ.get("STUDIO_VGG19_WEIGHTS")
    if explicit and Path(explicit).is_file():
        return Path(explicit)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE
    return cached if cached.is_file() else None


def _reachable(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """Probe in a thread: DNS lookups ignore socket timeouts and can hang offline."""
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 1)
    return bool(ok)


def download_weights() -> Path:
    if not _reachable("download.pytorch.org"):
        raise RuntimeError(
            "VGG19 weights not found locally and download.pytorch.org is unreachable; "
            "set STUDIO_VGG19_WEIGHTS to a local vgg19-dcbb9e9d.pth or use efficientnet-lite0"
        )
    dest = Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE
    dest.parent.mkdir(parents=True, exist_ok=True)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)  # a stalled transfer fails instead of hanging the worker
    try:
        torch.hub.download_url_to_file(VGG19_URL, str(dest), hash_prefix="dcbb9e9d")
    finally:
        socket.setdefaulttimeout(old)
    return dest


class VGG19Features(FeatureNet):
    def __init__(self, layers: tuple[str, ...], state_dict: dict[str, torch.Tensor]) -> None:
        super().__init__(layers, IMAGENET_MEAN, IMAGENET_STD)
        from torchvision.models.vgg import cfgs, make_layers

        # Only the conv stack: the 120 M-parameter classifier in the file is never needed.
        features = make_layers(cfgs["E"], batch_norm=False)  # torchvision's vgg19().features
        prefix = "features."
        features.load_state_dict(
            {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}, strict=True
        )
        last = max(VGG19_LAYERS[n] for n in layers) + 1  # include the ReLU after the deepest conv
        mods = [nn.ReLU(inplace=False) if isinstance(m, nn.ReLU) else m for m in features[: last + 1]]
        self.features = nn.Sequential(*mods)
        self.taps = {VGG19_LAYERS[n] + 1: n for n in layers}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        h = self.normalise(x)
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in self.taps:
                out[self.taps[i]] = h
        return out


def build_vgg19(layers: tuple[str, ...], *, allow_download: bool) -> FeatureNet:
    path = local_weights_path()
    if path is None:
        if not (allow_download or os.environ.get("STUDIO_ALLOW_DOWNLOAD") == "1"):
            raise RuntimeError("VGG19 weights not found locally (set STUDIO_VGG19_WEIGHTS)")
        path = download_weights()
    return VGG19Features(layers, load_state_dict_file(path)).freeze()
