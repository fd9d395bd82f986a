"""The GPU check's "every tool once" section: each tool's public ml entry point called as its tool calls
it, at the tool's form defaults, timed cold (the first call: cuDNN's kernel choice, the allocator's
first blocks) and warm, with the peak memory of the whole tool (model and work)."""

from __future__ import annotations

import traceback
from collections.abc import Callable

import torch

from bench.gpu_common import (
    Outcome,
    Plan,
    cyclegan_checkpoint,
    dcgan_checkpoint,
    fast_style_checkpoint,
    features_checkpoint,
    fresh_peak,
    once,
    open_device,
    peak_mib,
    sentiment_checkpoint,
    textgen_checkpoint,
)
from ml.common.sample_scene import sample_brushwork, sample_scene
from ml.cyclegan import infer as cyclegan_infer
from ml.dcgan import infer as dcgan_infer
from ml.fast_style import infer as fast_style_infer
from ml.features import infer as features_infer
from ml.features.formats import local_weights_path
from ml.features.model import LITE0_LAYERS
from ml.sentiment import infer as sentiment_infer
from ml.style.config import StyleConfig
from ml.style.infer import stylize
from ml.style.model import GRAM_CACHE
from ml.textgen import infer as textgen_infer

# A tool made ready on a device: (where its weights came from, one call, what one call makes).
Ready = tuple[str, Callable[[], object], str]


def photo(side: int) -> tuple[int, int]:
    return side, side * 3 // 4


def gatys(plan: Plan, device: torch.device) -> Ready:
    # As the style tool: the catalog's active network (VGG19 replaces Lite0 when its weights are here).
    network = "vgg19" if local_weights_path() is not None else "efficientnet-lite0"
    checkpoint, source = features_checkpoint(network)
    features = features_infer.load(checkpoint, tuple(sorted(LITE0_LAYERS)), device=device)
    cfg = StyleConfig(steps=plan.gatys_tool_steps, max_side=plan.gatys_tool_side)
    size = photo(plan.gatys_tool_side)
    content, style = sample_scene(size), sample_brushwork(size)

    def call() -> object:
        GRAM_CACHE.clear()  # each call a new job with a new style image
        return stylize(cfg, content, style, device=device, features=features)

    return (f"{network}: {source}", call,
            f"{cfg.steps} L-BFGS steps at {plan.gatys_tool_side} px (scales {cfg.scales})")


def fast_style(plan: Plan, device: torch.device) -> Ready:
    checkpoint, source = fast_style_checkpoint()
    model = fast_style_infer.load(checkpoint, device)
    image = sample_scene(photo(plan.photo_side))

    def call() -> object:
        return fast_style_infer.stylize_fast(model, image, max_side=plan.photo_side, device=device)

    return source, call, f"one {image.width}x{image.height} photo"


def cyclegan(plan: Plan, device: torch.device) -> Ready:
    checkpoint, source = cyclegan_checkpoint()
    model = cyclegan_infer.load(checkpoint, device)
    image = sample_scene(photo(plan.photo_side))
    work = f"one {image.width}x{image.height} photo, whole"
    return source, lambda: cyclegan_infer.translate(model, image, device), work


def dcgan(plan: Plan, device: torch.device) -> Ready:
    checkpoint, source = dcgan_checkpoint()
    model = dcgan_infer.load(checkpoint, device)
    work = f"{plan.dcgan_images} faces, 64 px"
    return source, lambda: dcgan_infer.sample(model, plan.dcgan_images, 0, device), work


def review(i: int, words: int) -> str:
    return " ".join(f"w{(i * 7 + j * 13) % 20_000}" for j in range(words))


def sentiment_one(plan: Plan, device: torch.device) -> Ready:
    checkpoint, source = sentiment_checkpoint()
    model = sentiment_infer.load(checkpoint, device)
    text = review(0, plan.review_words)
    work = f"one {plan.review_words}-word text and its 5 deciding words"
    return source, lambda: sentiment_infer.predict(model, text), work


def sentiment_many(plan: Plan, device: torch.device) -> Ready:
    checkpoint, source = sentiment_checkpoint()
    model = sentiment_infer.load(checkpoint, device)
    texts = [review(i, 30 + i % 170) for i in range(plan.texts)]
    return source, lambda: sentiment_infer.predict_many(model, texts), f"{plan.texts} texts in one batch"


def textgen(plan: Plan, device: torch.device) -> Ready:
    checkpoint, source = textgen_checkpoint()
    model = textgen_infer.load(checkpoint, device)

    def call() -> object:  # the tool's defaults: temperature 0.8, top k 5
        return "".join(textgen_infer.generate(model, "It is a truth", plan.text_chars, 0.8, 5, device=device))

    return source, call, f"{plan.text_chars} characters, one at a time"


TOOLS: dict[str, Callable[[Plan, torch.device], Ready]] = {
    "Gatys style (ml.style.infer.stylize)": gatys,
    "fast style (ml.fast_style.infer.stylize_fast)": fast_style,
    "CycleGAN (ml.cyclegan.infer.translate)": cyclegan,
    "DCGAN (ml.dcgan.infer.sample)": dcgan,
    "sentiment (ml.sentiment.infer.predict)": sentiment_one,
    "sentiment batch (ml.sentiment.infer.predict_many)": sentiment_many,
    "char-RNN (ml.textgen.infer.generate)": textgen,
}


def measure(name: str, ready: Callable[[Plan, torch.device], Ready], plan: Plan, device: torch.device) -> str:
    """One tool's table row. Its model goes when this returns, before the next tool's peak starts."""
    source, call, work = ready(plan, device)
    first, second = once(call, device), once(call, device)
    return f"| {name} | {source} | {work} | {first:.3f} | {second:.3f} | {peak_mib(device)} |"


def run(plan: Plan) -> Outcome:
    device, described = open_device(plan)
    out = Outcome(device=described)
    out.lines += ["| tool | weights | work | first call s | second call s | peak MiB |",
                  "| --- | --- | --- | ---: | ---: | ---: |"]
    for name, ready in TOOLS.items():
        fresh_peak(device)
        try:
            out.lines.append(measure(name, ready, plan, device))
        except Exception as exc:  # one tool's failure must not hide the others' figures
            out.problems.append(f"{name}: {exc!r}\n{traceback.format_exc()}")
            out.lines.append(f"| {name} | | | failed: {type(exc).__name__} | | |")
    out.lines += ["", "Peak MiB: torch.cuda.max_memory_allocated, reset before each tool (weights, "
                  "activations and the tool's own tensors)."]
    return out
