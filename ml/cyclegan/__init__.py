"""CycleGAN (Zhu et al. 2017) generators: unpaired image-to-image translation, one direction each.

config.py (CycleGANConfig) -> model.py (ResnetGenerator, junyanz layout) -> formats.py (import
public checkpoints) -> infer.py (translate) -> family.py (catalog contract) -> translate.py (CLI).
starter.py finds the modern->vintage photo generator shipped by PyPI vintagify.
"""
