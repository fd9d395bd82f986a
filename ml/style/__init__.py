"""Gatys-style neural style transfer: optimise an image's pixels to match one image's content and
another's style (Gatys, Ecker & Bethge 2016).

config.py (StyleConfig) -> model.py (the objective: Gram, content/style/TV losses, Gram cache) ->
infer.py (stylize) -> predict.py (command line). The feature network comes from ml/features; Gatys
has no weights of its own, so there is no family.py, formats.py or starter.py, and nothing to train.
"""
