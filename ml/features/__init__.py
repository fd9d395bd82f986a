"""Style features: the ImageNet networks (VGG19, EfficientNet-Lite0) that Gatys style transfer and
the fast-style trainer read feature maps from; the catalog's "style-features" family.

config.py (StyleFeaturesConfig: which network) -> model.py (VGG19, EfficientNetLite0 and the frozen
FeatureNet cut out of either) -> family.py (catalog contract) -> formats.py (import torchvision's
VGG19 and the PyPI EfficientNet-Lite0, and find their files) -> infer.py (load a FeatureNet).
starter.py: the starter networks. No training and no command line: these are fixed ImageNet nets.
"""
