"""Drift: how far the traffic a model serves has moved from the data it was trained on.

A baseline profile is taken once per model version from its training data: for each feature (for
texts, the length in words and the out-of-vocabulary rate; for images, size, brightness, contrast
and saturation), ten bins cut at the baseline's deciles
with the baseline's share in each, and a sample of the raw values; and the share of positive
predictions. ``compare`` measures a window of captured traffic against it, per feature:

- the population stability index, PSI = sum (actual - expected) * ln(actual / expected) over the
  bins: under 0.1 little change, 0.1-0.2 some, over 0.2 a shift worth a look (the usual reading);
- the two-sample Kolmogorov-Smirnov test (scipy) on the raw values, whose p-value says how likely a
  gap this large is between two samples of one distribution;

and the change in the share of positive predictions. A feature alarms when its PSI is over the PSI
threshold and its KS p-value under the p threshold (both, so that neither a wide sample's tiny
but "significant" shift nor a small sample's noisy PSI alarms alone).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

BINS = 10
SAMPLE = 2000  # raw baseline values kept per feature, for the KS test
EPSILON = 1e-4  # a bin's share floor: an empty bin would make PSI infinite


def text_features(texts: Sequence[str], vocabulary: set[str], tokenize: Any) -> dict[str, list[float]]:
    """Per text: ``length`` (words) and ``oov`` (share of its words outside ``vocabulary``; 0 for a
    text of no words). ``tokenize`` is the model's own (text -> words)."""
    length, oov = [], []
    for text in texts:
        words = tokenize(text)
        length.append(float(len(words)))
        oov.append(sum(w not in vocabulary for w in words) / len(words) if words else 0.0)
    return {"length": length, "oov": oov}


def image_features(images: Sequence[Image.Image]) -> dict[str, list[float]]:
    """Per image: ``megapixels`` (of the image as given), and on a copy at most 256 px a side,
    ``brightness`` and ``contrast`` (mean and standard deviation of the luma, 0-1) and
    ``saturation`` (mean HSV saturation, 0-1)."""
    out: dict[str, list[float]] = {"megapixels": [], "brightness": [], "contrast": [], "saturation": []}
    for image in images:
        out["megapixels"].append(image.width * image.height / 1e6)
        small = image.convert("RGB")
        small.thumbnail((256, 256))
        luma = np.asarray(small.convert("L"), dtype=np.float32) / 255.0
        out["brightness"].append(float(luma.mean()))
        out["contrast"].append(float(luma.std()))
        hsv = np.asarray(small.convert("HSV"), dtype=np.float32)
        out["saturation"].append(float(hsv[..., 1].mean() / 255.0))
    return out


def _edges(values: Sequence[float]) -> list[float]:
    """The inner bin edges: the deciles of ``values``, repeats removed (a feature with few distinct
    values gets fewer bins)."""
    ordered = sorted(values)
    cuts = {ordered[min(len(ordered) - 1, (len(ordered) * k) // BINS)] for k in range(1, BINS)}
    return sorted(cuts)


def shares(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    """The share of ``values`` in each bin (value <= edge goes left), floored at EPSILON."""
    counts = [0] * (len(edges) + 1)
    for value in values:
        counts[bisect.bisect_left(edges, value)] += 1
    total = max(1, len(values))
    return [max(EPSILON, c / total) for c in counts]


def profile(features: dict[str, list[float]], positive: Sequence[float] | None = None, seed: int = 0
            ) -> dict[str, Any]:
    """The baseline profile of the training data's ``features`` and the model's ``positive``
    probabilities on them (JSON-ready; None for a model that does not classify)."""
    rng = random.Random(seed)
    n = len(next(iter(features.values()), []))
    out: dict[str, Any] = {"n": n, "positive": None if positive is None else _positive_share(positive),
                           "features": {}}
    for name, values in features.items():
        edges = _edges(values)
        sample = list(values) if len(values) <= SAMPLE else rng.sample(list(values), SAMPLE)
        out["features"][name] = {"edges": edges, "shares": shares(values, edges), "sample": sample}
    return out


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two share vectors over the same bins."""
    return sum((a - e) * math.log(a / e) for e, a in zip(expected, actual, strict=True))


def _positive_share(probabilities: Sequence[float]) -> float:
    return sum(p >= 0.5 for p in probabilities) / len(probabilities) if probabilities else 0.0


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2  # a feature's PSI over this, ...
    p_value: float = 0.01  # ... and its KS p-value under this, alarm
    positive: float = 0.25  # the positive share moving more than this alarms on its own


def compare(baseline: dict[str, Any], features: dict[str, list[float]], positive: Sequence[float] | None,
            thresholds: Thresholds) -> dict[str, Any]:
    """The drift of a traffic window against ``baseline``: per feature its PSI, KS statistic and
    p-value, the positive share then and now, and ``alarms`` (one sentence each; empty: no drift)."""
    from scipy import stats  # here: profiling (at the end of every training) does not need it

    report: dict[str, Any] = {"n": len(next(iter(features.values()), [])), "features": {}, "alarms": []}
    for name, base in baseline["features"].items():
        values = features[name]
        current = shares(values, base["edges"])
        index = psi(base["shares"], current)
        ks = stats.ks_2samp(base["sample"], values)
        report["features"][name] = {"psi": round(index, 4), "ks": round(float(ks.statistic), 4),
                                    "p_value": float(ks.pvalue), "shares": current,
                                    "baseline": base["shares"]}
        if index > thresholds.psi and ks.pvalue < thresholds.p_value:
            report["alarms"].append(f"{name}: PSI {index:.2f} (over {thresholds.psi:g}), "
                                    f"KS p = {ks.pvalue:.1e}")
    if positive is None or baseline.get("positive") is None:
        return report
    now = _positive_share(positive)
    report["positive"] = {"baseline": baseline["positive"], "now": now}
    if abs(now - baseline["positive"]) > thresholds.positive:
        report["alarms"].append(f"positive predictions {now:.0%} against {baseline['positive']:.0%} "
                                "in training")
    return report
