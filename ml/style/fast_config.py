"""Settings of a feed-forward style network: which architecture, and the styles it knows."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("transformer-net", "multistyle")


@dataclass
class FastStyleConfig:
    # "transformer-net": Johnson et al. 2016, one style, pixels 0..255 in and out.
    # "multistyle": Dumoulin et al. 2017 conditional instance norm, n_styles blendable, 0..1.
    kind: str = "transformer-net"
    styles: list[str] = field(default_factory=lambda: ["style"])
    n_styles: int = 1

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistent setting."""
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.n_styles < 1:
            raise ValueError(f"n_styles must be >= 1, got {self.n_styles}")
        if self.kind == "transformer-net" and self.n_styles != 1:
            raise ValueError(f"a transformer-net holds exactly one style, got n_styles={self.n_styles}")
        if len(self.styles) != self.n_styles:
            raise ValueError(f"styles names {len(self.styles)} styles but n_styles is {self.n_styles}")
        if len(set(self.styles)) != len(self.styles) or not all(self.styles):
            raise ValueError("style names must be unique and non-empty")
