"""What the GPU check's sections share: the sizes of a run (``Plan``), what a section hands back
(``Outcome``), the device, a synchronising clock, peak memory, and the models, with the catalog's
starter weights where they are installed and random weights of the same architecture where not.

Timings on CUDA need a synchronise: kernels run asynchronously, so a clock read right after a call
measures only the launch.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from ml.common.checkpoint import checkpoint_dict
from ml.common.starter import Starter
from ml.families import get_family

MiB = 2**20


@dataclass(frozen=True)
class Plan:
    """Sizes and budgets of one run: the real one on a GPU, or the dry run's tiny ones on the CPU."""

    dry: bool
    photo_side: int  # fast style and CycleGAN photos (the tools' form defaults: 512 and 1024)
    gatys_tool_side: int  # the style tool's defaults: 320 px, 150 steps
    gatys_tool_steps: int
    gatys_side: int  # the roofline's image: 512 px
    gatys_stylize_steps: int  # one single-scale stylize call of this many L-BFGS evaluations
    dcgan_images: int
    texts: int  # sentiment texts scored in one predict_many
    review_words: int  # the one text predict scores: a forward per distinct word, all in one batch
    text_chars: int  # characters the char-RNN writes
    speed_side: int  # throughput images (fast style, CycleGAN)
    speed_batch: int
    dcgan_batch: int
    seconds: float  # how long each throughput figure is measured for
    warmup: int  # untimed calls before each figure
    least: int  # timed calls at least
    serving_seconds: float  # bench.serving's --seconds
    serving_clients: int
    # bench.serving's web processes: on 16 cores one daphne would be the bottleneck, hiding the GPU
    serving_web_processes: int

    @property
    def device(self) -> torch.device:
        return torch.device("cpu" if self.dry else "cuda")


REAL = Plan(dry=False, photo_side=1024, gatys_tool_side=320, gatys_tool_steps=150, gatys_side=512,
            gatys_stylize_steps=50, dcgan_images=64, texts=256, review_words=180, text_chars=600,
            speed_side=512, speed_batch=8, dcgan_batch=256, seconds=1.0, warmup=2, least=3,
            serving_seconds=5.0, serving_clients=64, serving_web_processes=4)
# Every code path of the real run, at sizes a 2-core CI machine runs in seconds.
DRY = Plan(dry=True, photo_side=48, gatys_tool_side=64, gatys_tool_steps=2, gatys_side=64,
           gatys_stylize_steps=2, dcgan_images=4, texts=4, review_words=12, text_chars=20, speed_side=16,
           speed_batch=1, dcgan_batch=2, seconds=0.0, warmup=0, least=1, serving_seconds=0.5,
           serving_clients=4, serving_web_processes=1)


@dataclass
class Outcome:
    """A section's Markdown (without its heading), the device it ran on, and what went wrong in it: a
    section with problems fails but keeps the figures it did get."""

    lines: list[str] = field(default_factory=list)
    device: str = ""
    problems: list[str] = field(default_factory=list)


def open_device(plan: Plan) -> tuple[torch.device, str]:
    """The plan's device, ready, and a line naming it (GPU, memory, torch, CUDA, cuDNN, TF32 flags)."""
    device = plan.device
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA is not available here; run with --dry-run on a machine without a GPU")
    if device.type != "cuda":
        # The dry run's tensors are tiny, and on a busy CI machine torch's threads wait on each other at
        # every op's barrier (a 2 ms forward took a second here); one thread, as the tests' processes.
        torch.set_num_threads(1)
        return device, f"CPU (1 torch thread of {os.cpu_count()} CPUs), torch {torch.__version__}"
    props = torch.cuda.get_device_properties(device)
    return device, (f"{props.name} ({props.total_memory / 2**30:.0f} GiB, {props.multi_processor_count} SMs, "
                    f"compute {props.major}.{props.minor}), torch {torch.__version__}, CUDA "
                    f"{torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}; TF32: matmul "
                    f"{torch.backends.cuda.matmul.allow_tf32}, cuDNN {torch.backends.cudnn.allow_tf32}")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def once(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds of one call, its queued kernels included."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def per_call(fn: Callable[[], object], device: torch.device, seconds: float, warmup: int = 2,
             least: int = 3) -> float:
    """Mean seconds per call over at least ``least`` calls and ``seconds``, after ``warmup`` calls
    (cuDNN picks its kernels and the allocator fills its cache on the first ones). Calls queue back to
    back as a server's would, with one synchronise at the end."""
    for _ in range(warmup):
        fn()
    sync(device)
    calls, start = 0, time.perf_counter()
    while calls < least or time.perf_counter() - start < seconds:
        fn()
        calls += 1
        if calls % 8 == 0:  # the clock must see the work, not only the launches
            sync(device)
    sync(device)
    return (time.perf_counter() - start) / calls


def fresh_peak(device: torch.device) -> None:
    """Forget the last tool's models and peak, so the next figure is its own."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> str:
    """The most memory tensors held since ``fresh_peak``; CUDA only (the CPU has no such counter)."""
    if device.type != "cuda":
        return "n/a (CPU)"
    return f"{torch.cuda.max_memory_allocated(device) / MiB:,.0f}"


def random_checkpoint(family: str, config: Any) -> dict[str, Any]:
    """A studio checkpoint of ``family``'s architecture for ``config`` with freshly initialised weights:
    what each tool runs when the starter's weights are not installed (the same layers, the same cost)."""
    torch.manual_seed(0)
    model = get_family(family).build(config)
    return checkpoint_dict(family=family, config=config, state_dict=model.state_dict())


def starter_or_random(starter: Starter, config: Any) -> tuple[dict[str, Any], str]:
    """The starter's converted checkpoint and where it came from, or random weights for ``config``."""
    path = starter.locate()
    if path is not None and starter.convert is not None:
        return starter.convert(path), f"starter {starter.key}"
    return random_checkpoint(starter.family, config), f"random weights ({starter.missing})"


def matching(config_class: type, settings: Any, **given: Any) -> Any:
    """A model config from a trainer's settings: the fields both have, plus ``given``; so a random model
    has the trained starter's architecture."""
    shared = {f.name: getattr(settings, f.name) for f in fields(config_class) if hasattr(settings, f.name)}
    return config_class(**{**shared, **given})


def fast_style_checkpoint() -> tuple[dict[str, Any], str]:
    from ml.fast_style.config import FastStyleConfig
    from ml.fast_style.starter import STARTER

    styles = [f"style {i}" for i in range(26)]  # the starter's 26 blendable styles
    return starter_or_random(STARTER, FastStyleConfig(kind="multistyle", styles=styles, n_styles=26))


def cyclegan_checkpoint() -> tuple[dict[str, Any], str]:
    from ml.cyclegan.config import CycleGANConfig
    from ml.cyclegan.starter import STARTER

    return starter_or_random(STARTER, CycleGANConfig(affine=True))  # vintagify's affine instance norm


def dcgan_checkpoint() -> tuple[dict[str, Any], str]:
    from ml.dcgan.config import DCGANConfig
    from ml.dcgan.starter import STARTER

    return starter_or_random(STARTER, DCGANConfig())


def features_checkpoint(network: str) -> tuple[dict[str, Any], str]:
    """The style tool's feature network: the catalog's starter of that network, or random weights."""
    from ml.features.config import StyleFeaturesConfig
    from ml.features.starter import STARTERS

    (starter,) = [s for s in STARTERS if s.key == network]
    return starter_or_random(starter, StyleFeaturesConfig(network=network))


def sentiment_checkpoint() -> tuple[dict[str, Any], str]:
    """The LSTM starter's architecture (it is trained on install, from data a GPU machine may lack),
    with random weights and a 20,000-word vocabulary."""
    from ml.sentiment.config import SentimentConfig
    from ml.sentiment.starter import settings

    config = matching(SentimentConfig, settings("lstm", full=False), words=[f"w{i}" for i in range(20_000)])
    return random_checkpoint("sentiment", config), "random weights (the LSTM starter's architecture)"


def textgen_checkpoint() -> tuple[dict[str, Any], str]:
    """The char-RNN starter's architecture, random weights (it too is trained on install)."""
    import string

    from ml.textgen.config import CharRNNConfig
    from ml.textgen.starter import settings

    config = matching(CharRNNConfig, settings(full=False).train, tokens=string.printable)
    return random_checkpoint("textgen", config), "random weights (the char-RNN starter's architecture)"
