"""Test-set figures for a binary classifier, by hand (no scikit-learn in the studio): accuracy,
precision, recall, ROC AUC by the rank formula, the confusion matrix and a picture of the ROC curve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """The probability that a random positive scores above a random negative (ties count half), by
    the Mann-Whitney rank formula: (sum of the positives' ranks - P(P+1)/2) / (P N), with tied scores
    sharing their average rank. O(n log n) where counting pairs is O(P N). NaN without both classes."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1  # ranks from 1; a tie's average
        i = j + 1
    pos = sum(1 for y in labels if y == 1)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y == 1)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def roc_curve(scores: Sequence[float], labels: Sequence[int]) -> list[tuple[float, float]]:
    """(false-positive rate, true-positive rate) at every threshold, from (0, 0) to (1, 1)."""
    pos = max(sum(labels), 1)
    neg = max(len(labels) - sum(labels), 1)
    pairs = sorted(zip(scores, labels, strict=True), key=lambda p: -p[0])
    points, tp, fp = [(0.0, 0.0)], 0, 0
    for i, (score, label) in enumerate(pairs):
        tp, fp = tp + label, fp + (1 - label)
        if i + 1 == len(pairs) or pairs[i + 1][0] != score:  # one point per distinct threshold
            points.append((fp / neg, tp / pos))
    return points


def report(probabilities: Sequence[float], labels: Sequence[int], threshold: float = 0.5) -> dict[str, Any]:
    """accuracy, precision, recall, roc_auc (floats), confusion [[TN, FP], [FN, TP]] and the ROC
    curve's points; precision is 0 when nothing was called positive."""
    predicted = [1 if p >= threshold else 0 for p in probabilities]
    tp = sum(1 for p, y in zip(predicted, labels, strict=True) if p == 1 and y == 1)
    fp = sum(1 for p, y in zip(predicted, labels, strict=True) if p == 1 and y == 0)
    fn = sum(1 for p, y in zip(predicted, labels, strict=True) if p == 0 and y == 1)
    tn = len(labels) - tp - fp - fn
    return {
        "accuracy": (tp + tn) / max(len(labels), 1),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "roc_auc": roc_auc(probabilities, labels),
        "confusion": [[tn, fp], [fn, tp]],
        "roc": [list(p) for p in roc_curve(probabilities, labels)],
    }


def roc_image(points: Sequence[Sequence[float]], auc: float, size: int = 320) -> Image.Image:
    """The ROC curve on white with the chance diagonal, AUC written in the corner."""
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    m = 24  # margin for the axes
    span = size - 2 * m

    def xy(fpr: float, tpr: float) -> tuple[float, float]:
        return m + fpr * span, size - m - tpr * span

    draw.rectangle([m, m, size - m, size - m], outline=(160, 160, 160))
    draw.line([xy(0, 0), xy(1, 1)], fill=(200, 200, 200), width=1)
    draw.line([xy(p[0], p[1]) for p in points], fill=(31, 119, 180), width=2)
    draw.text((m + 6, m + 6), f"ROC AUC {auc:.3f}", fill=(0, 0, 0))
    draw.text((m, size - m + 6), "false positive rate", fill=(90, 90, 90))
    draw.text((4, m - 16), "true positive rate", fill=(90, 90, 90))
    return img


def score_histogram(probabilities: Sequence[float], bins: int = 20, size: tuple[int, int] = (400, 220)
                    ) -> Image.Image:
    """How the scores of a batch spread from 0 (negative) to 1 (positive): ``bins`` bars, red below
    0.5 and green above, the counts either side written on top."""
    width, height = size
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    m = 24
    counts = [0] * bins
    for p in probabilities:
        counts[min(int(p * bins), bins - 1)] += 1
    top = max(counts) or 1
    bar = (width - 2 * m) / bins
    for i, count in enumerate(counts):
        x0 = m + i * bar
        y0 = height - m - (height - 2 * m - 16) * count / top
        colour = (214, 39, 40) if (i + 0.5) / bins < 0.5 else (44, 160, 44)
        draw.rectangle([x0 + 1, y0, x0 + bar - 1, height - m], fill=colour)
    draw.line([m, height - m, width - m, height - m], fill=(120, 120, 120))
    negative = sum(1 for p in probabilities if p < 0.5)
    draw.text((m, 4), f"{negative} negative", fill=(214, 39, 40))
    draw.text((width - m - 80, 4), f"{len(probabilities) - negative} positive", fill=(44, 160, 44))
    draw.text((m, height - m + 6), "0", fill=(90, 90, 90))
    draw.text((width // 2 - 20, height - m + 6), "score", fill=(90, 90, 90))
    draw.text((width - m - 6, height - m + 6), "1", fill=(90, 90, 90))
    return img
