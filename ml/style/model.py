"""Gatys et al. (2016) objective: the losses in the Udacity notebook's exact form, so its weights mean
the same, and the total loss at one image size (``Objective``). Gatys has no weights of its own: the
feature network ``F`` comes from the style-features family (ml/features).

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

from ml.common.images import image_to_tensor
from ml.features.model import FeatureNet
from ml.style.config import StyleConfig


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


class Objective:
    """Total loss at one image size; targets are fixed at construction (computed once per scale)."""

    def __init__(
        self,
        cfg: StyleConfig,
        net: FeatureNet,
        network: str,
        content: Image.Image,
        style: Image.Image,
        device: torch.device,
    ) -> None:
        self.cfg, self.net = cfg, net
        self.style_weights = {k: v for k, v in cfg.style_layer_weights.items() if v > 0}
        self.content_t = image_to_tensor(content).to(device)  # (1, 3, H, W)
        # Udacity resizes the style image to the content's exact shape: the unnormalised Grams
        # then sit on the same scale as the output's, which the style weights assume.
        style_sized = style.resize(content.size, Image.Resampling.LANCZOS)
        style_t = image_to_tensor(style_sized).to(device)
        self.grams = GRAM_CACHE.get_or_compute(network, net, style_sized, style_t, tuple(self.style_weights))
        with torch.no_grad():
            self.content_target = net(self.content_t)[cfg.content_layer]

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        feats = self.net(x)
        c = self.net.content_gain * content_loss(feats, self.content_target, self.cfg.content_layer)
        s = style_loss(feats, self.grams, self.style_weights)
        total = self.cfg.content_weight * c + self.cfg.style_weight * s
        parts = {"content": c.item(), "style": s.item()}
        if self.cfg.tv_weight > 0:
            tv = tv_loss(x)
            total = total + self.cfg.tv_weight * tv
            parts["tv"] = tv.item()
        parts["loss"] = total.item()
        return total, parts
