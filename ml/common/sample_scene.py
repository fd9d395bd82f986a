"""A small landscape drawn with Pillow: the picture model previews are rendered on.

A drawn picture, not a photo, so a preview is the same wherever it is made (the examples on
the home page use scikit-image's photos: ml/common/bundled_images.py). It is deterministic (no
randomness, no fonts) and has what a style shows up on: a smooth sky gradient, flat colour areas,
hard edges and a few thin lines. ``sample_brushwork`` draws a style image
the same way (its strokes placed by a seeded generator: the same picture every time), for the
Gatys example.
"""

from __future__ import annotations

import random

from PIL import Image, ImageDraw


def _lerp(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def sample_scene(size: tuple[int, int] = (256, 192)) -> Image.Image:
    """An RGB landscape of ``size`` (width, height): sky, sun, two hills, a house, trees, a path."""
    w, h = size
    if w < 8 or h < 8:
        raise ValueError(f"size must be at least 8x8, got {w}x{h}")
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)

    def x(fraction: float) -> int:
        return round(fraction * w)

    def y(fraction: float) -> int:
        return round(fraction * h)

    # Sky: deep blue at the top fading to a pale warm horizon.
    horizon = y(0.62)
    for row in range(horizon):
        draw.line([(0, row), (w, row)], fill=_lerp((40, 90, 180), (250, 215, 170), row / max(horizon - 1, 1)))
    # Sun with a halo ring, so there is a round edge and a soft one.
    sx, sy, r = x(0.78), y(0.2), max(2, round(0.07 * w))
    draw.ellipse([sx - 1.6 * r, sy - 1.6 * r, sx + 1.6 * r, sy + 1.6 * r], fill=(252, 225, 160))
    draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(255, 200, 40), outline=(230, 120, 20), width=2)
    # Two clouds made of overlapping ellipses.
    for cx, cy, s in ((0.2, 0.16, 1.0), (0.47, 0.28, 0.7)):
        for dx, dy, rx, ry in ((-0.06, 0.0, 0.06, 0.035), (0.0, -0.02, 0.07, 0.05), (0.06, 0.0, 0.06, 0.035)):
            ox, oy = x(cx + dx * s), y(cy + dy * s)
            box = [ox - x(rx * s), oy - y(ry * s), ox + x(rx * s), oy + y(ry * s)]
            draw.ellipse(box, fill=(245, 245, 250))
    # Hills: a far blue-green one behind a near green one.
    draw.ellipse([x(-0.3), y(0.45), x(0.75), y(1.2)], fill=(70, 130, 110))
    draw.ellipse([x(0.35), y(0.5), x(1.4), y(1.25)], fill=(95, 150, 90))
    # Meadow in front, with darker stripes for texture.
    draw.rectangle([0, y(0.78), w, h], fill=(110, 170, 60))
    for i, row in enumerate(range(y(0.8), h, max(2, y(0.04)))):
        draw.line([(0, row), (w, row + y(0.02))], fill=(85, 140, 45) if i % 2 else (125, 185, 70), width=1)
    # A winding sandy path.
    draw.polygon([(x(0.30), h), (x(0.46), h), (x(0.43), y(0.82)), (x(0.38), y(0.73)), (x(0.35), y(0.73)),
                  (x(0.37), y(0.82))], fill=(215, 190, 140))
    # The house: white wall, red roof, blue door and a window with a cross.
    left, right, top, base = x(0.22), x(0.42), y(0.56), y(0.75)
    draw.rectangle([left, top, right, base], fill=(240, 235, 220), outline=(60, 50, 40), width=1)
    draw.polygon([(left - x(0.02), top), (right + x(0.02), top), ((left + right) // 2, y(0.42))],
                 fill=(190, 50, 40), outline=(90, 25, 20))
    draw.rectangle([x(0.30), y(0.64), x(0.34), base], fill=(40, 70, 150))
    wx0, wy0, wx1, wy1 = x(0.245), y(0.6), x(0.285), y(0.66)
    draw.rectangle([wx0, wy0, wx1, wy1], fill=(250, 230, 120), outline=(60, 50, 40))
    draw.line([((wx0 + wx1) // 2, wy0), ((wx0 + wx1) // 2, wy1)], fill=(60, 50, 40))
    draw.line([(wx0, (wy0 + wy1) // 2), (wx1, (wy0 + wy1) // 2)], fill=(60, 50, 40))
    # Trees: brown trunks, dark green crowns of different sizes.
    for tx, crown in ((0.58, 0.07), (0.68, 0.09), (0.9, 0.06), (0.1, 0.08)):
        cx, ground = x(tx), y(0.8)
        draw.rectangle([cx - x(0.008), ground - y(0.14), cx + x(0.008), ground], fill=(100, 65, 30))
        cy = ground - y(0.14) - y(crown * 0.6)
        draw.ellipse([cx - x(crown * 0.6), cy - y(crown), cx + x(crown * 0.6), cy + y(crown)],
                     fill=(30, 95, 40), outline=(20, 60, 25))
    # A few flowers: small bright dots on the meadow.
    flowers = ((0.06, 0.9), (0.16, 0.95), (0.55, 0.88), (0.62, 0.96), (0.8, 0.9), (0.93, 0.97))
    for i, (fx, fy) in enumerate(flowers):
        colour = ((230, 60, 90), (250, 240, 80), (240, 240, 255))[i % 3]
        draw.ellipse([x(fx) - 2, y(fy) - 2, x(fx) + 2, y(fy) + 2], fill=colour)
    return img


def sample_brushwork(size: tuple[int, int] = (160, 120), seed: int = 0) -> Image.Image:
    """A style image to borrow from, drawn like the landscape (no file, no network): short curved
    strokes of yellow, white and light blue swirling over a deep blue ground, the kind of bold,
    repeated brushwork whose Gram matrices a Gatys run picks up in a few steps."""
    w, h = size
    if w < 8 or h < 8:
        raise ValueError(f"size must be at least 8x8, got {w}x{h}")
    img = Image.new("RGB", size, (20, 40, 110))
    draw = ImageDraw.Draw(img)
    rng = random.Random(seed)  # its own generator: the same picture every time
    palette = ((250, 210, 60), (245, 245, 235), (120, 170, 230), (40, 80, 170), (230, 140, 40))
    stroke = max(2, round(min(w, h) / 40))
    for _ in range(w * h // 60):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.04, 0.16) * min(w, h)
        start = rng.uniform(0, 360)
        draw.arc([cx - r, cy - r, cx + r, cy + r], start, start + rng.uniform(50, 140),
                 fill=rng.choice(palette), width=stroke)
    return img
