"""Pure PyTorch model code. Never imports Django or anything under apps/ (a test checks it).

ml/common holds what every family shares (checkpoint I/O, the family contract and ``load_model``,
Progress, training skeleton, starter descriptions, image and metrics helpers). Every model family is
a folder with the same file names, each present only where the family has that part
(tests/ml/test_layout.py checks it):

    config.py   @dataclass configs: the model's (travels in its checkpoint) and the training's
    model.py    the nn.Modules
    family.py   the catalog contract: Family(...) registered in ml/families.py
    formats.py  import of public checkpoint formats (and finding their files)
    data.py     reading and preparing data
    infer.py    load(source, device=...) through ml.common.family.load_model, and the run functions
    predict.py  inference command line: python -m ml.<family>.predict
    training.py the training loop
    train.py    training command line: python -m ml.<family>.train
    starter.py  the starter model(s): where weights or data come from, model card, licence, previews

    family      config model family formats data infer predict training train starter
    style        x      x                          x     x                            (Gatys)
    features     x      x     x      x             x                         x
    fast_style   x      x     x      x      x      x     x       x        x     x
    cyclegan     x      x     x      x      x      x     x       x        x     x
    dcgan        x      x     x      x      x      x     x       x        x     x
    sentiment    x      x     x             x      x     x       x        x     x
    textgen      x      x     x      x      x      x     x       x        x     x

style (Gatys) has no weights of its own, so no family, formats or starter; style and features do not
train; sentiment has no public checkpoint format to import. A few other files (ml/dcgan/sample.py,
ml/style/stylize.py, ...) are the commands' old names, kept as aliases (docs/command-line.md).
"""
