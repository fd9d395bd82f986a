"""Gatys et al. (2016) losses in the Udacity notebook's exact form, so its weights mean the same.

content  = mean((F_l(x) - F_l(c))^2)                                   (eq. 1, mean not 1/2 sum)
style    = sum_l w_l * mean((G_l(x) - G_l(s))^2) / (C_l * h_l * w_l)   (eq. 4-5, Udacity scaling)
G_l      = F F^T with F the (C, h*w) feature matrix, unnormalised
total    = alpha * content + beta * style + tv_weight * tv
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import torch
from PIL import Image

from ml.style.features import FeatureNet


def gram(feature: torch.Tensor) -> torch.Tensor:
    """(1, C, h, w) -> (C, C) unnormalised Gram matrix."""
    _, c, h, w = feature.shape
    f = feature.reshape(c, h * w)
    return f @ f.t()


def content_loss(features: dict[str, torch.Tensor], target: torch.Tensor, layer: str) -> torch.Tensor:
    return torch.mean((features[layer] - target) ** 2)


def style_loss(
    features: dict[str, torch.Tensor],
    grams: dict[str, torch.Tensor],
    weights: dict[str, float],
) -> torch.Tensor:
    total = next(iter(features.values())).new_zeros(())  # also right when no layer is weighted
    for layer, w in weights.items():
        f = features[layer]
        _, c, h, wd = f.shape
        total = total + w * torch.mean((gram(f) - grams[layer]) ** 2) / (c * h * wd)
    return total


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation (sum of absolute neighbour differences), mean per pixel."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


class GramCache:
    """Small LRU of style Gram matrices across jobs: one style image reused at one size is computed
    once per process. Keyed by network, pixel hash, size and layers; values live on the CPU."""

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple, dict[str, torch.Tensor]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    @staticmethod
    def key(network: str, style: Image.Image, layers: tuple[str, ...]) -> tuple:
        digest = hashlib.sha256(style.tobytes()).hexdigest()
        return (network, digest, style.size, style.mode, tuple(sorted(layers)))

    def get_or_compute(
        self,
        network: str,
        net: FeatureNet,
        style: Image.Image,
        style_tensor: torch.Tensor,
        layers: tuple[str, ...],
    ) -> dict[str, torch.Tensor]:
        k = self.key(network, style, layers)
        with self._lock:
            if k in self._items:
                self._items.move_to_end(k)
                self.hits += 1
                return {n: g.to(style_tensor.device) for n, g in self._items[k].items()}
        with torch.no_grad():
            feats = net(style_tensor)
            grams = {n: gram(feats[n]) for n in layers}
        with self._lock:
            self._items[k] = {n: g.cpu() for n, g in grams.items()}
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return grams

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = 0


GRAM_CACHE = GramCache()
