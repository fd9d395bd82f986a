"""CycleGAN (Zhu et al. 2017) generators: unpaired image-to-image translation, one direction each.

config.py: CycleGANConfig (the generator's architecture) and TrainConfig.
model.py: ResnetGenerator (junyanz layout), the generator each direction uses, and
    NLayerDiscriminator, the 70x70 PatchGAN used only in training.
family.py: registers the "cyclegan" family in the catalog (build, example input, import).
formats.py: imports public generator files (junyanz, vintagify) as studio checkpoints.
infer.py: loads a generator; translates an image or tensor with it, whole or in blended tiles.
predict.py: command line: translate one image.
data.py: training data: domain tensors, seeded crops and flips, the image pool, the run's plan.
training.py: the training loop (junyanz's recipe), exactly resumable from its checkpoints.
train.py: command line: train on two unpaired image sets (zips or folders).
starter.py: the starter: the modern->vintage photo generator shipped by PyPI vintagify.
"""
