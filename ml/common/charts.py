"""A loss chart as a picture, drawn with Pillow: what a finished training leaves beside its samples
(the browser draws the same curves live from the job's events; static/js/loss_chart.js)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

# Colour-blind-safe (Okabe-Ito), in the order the curves are named.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def loss_chart(history: Sequence[dict[str, float]], keys: Sequence[str], *, x: str = "step",
               size: tuple[int, int] = (720, 360), title: str = "") -> Image.Image:
    """Each of ``keys`` against ``x`` over the ``history`` records (as trainers return them), on one
    linear axis from 0 (or the lowest value) to the highest. Non-finite points are left out."""
    w, h = size
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    left, right, top, bottom = 56, 16, 28 if title else 12, 40
    pw, ph = w - left - right, h - top - bottom
    points = {k: [(r[x], r[k]) for r in history if k in r and math.isfinite(r[k])] for k in keys}
    xs = [p[0] for pts in points.values() for p in pts]
    ys = [p[1] for pts in points.values() for p in pts]
    if title:
        draw.text((left, 6), title, fill="black", font=font)
    draw.rectangle([left, top, left + pw, top + ph], outline="#888888")
    if not xs:
        draw.text((left + 10, top + 10), "no points yet", fill="#888888", font=font)
        return img
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(0.0, min(ys)), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1

    def at(px: float, py: float) -> tuple[float, float]:
        return left + (px - x0) / (x1 - x0) * pw, top + ph - (py - y0) / (y1 - y0) * ph

    for i in range(5):  # horizontal grid lines with their values
        value = y0 + (y1 - y0) * i / 4
        _, gy = at(x0, value)
        draw.line([left, gy, left + pw, gy], fill="#e5e5e5")
        draw.text((4, gy - 6), f"{value:.3g}", fill="#444444", font=font)
    draw.text((left, top + ph + 6), f"{x0:g}", fill="#444444", font=font)
    draw.text((left + pw - 40, top + ph + 6), f"{x1:g} {x}", fill="#444444", font=font)
    legend_x = left + 80
    for k, colour in zip(keys, COLOURS * (len(keys) // len(COLOURS) + 1), strict=False):
        pts = [at(px, py) for px, py in points[k]]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        elif pts:
            draw.ellipse([pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2], fill=colour)
        draw.line([legend_x, h - 12, legend_x + 16, h - 12], fill=colour, width=3)
        draw.text((legend_x + 20, h - 18), k, fill="black", font=font)
        legend_x += 30 + int(draw.textlength(k, font=font))
    return img
