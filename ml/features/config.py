"""Which ImageNet network a "style-features" checkpoint holds: travels inside it as its "config" dict."""

from __future__ import annotations

from dataclasses import dataclass

NETWORKS = ("efficientnet-lite0", "vgg19")


@dataclass
class StyleFeaturesConfig:
    network: str = "efficientnet-lite0"

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {self.network!r}")
