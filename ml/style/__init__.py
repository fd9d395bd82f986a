"""Gatys-style neural style transfer.

config.py (StyleConfig) -> features.py (feature nets: vgg.py, efficientnet_lite.py) ->
losses.py (Gram, content/style/TV losses, Gram cache) -> gatys.py (stylize) -> stylize.py (CLI).
"""
