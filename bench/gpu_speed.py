"""The GPU check's speed sections.

``gatys``: one Gatys iteration (the objective's forward and backward through VGG19, as
``ml.style.infer.stylize`` runs it at 512 px) against the device's TF32 roofline: the FLOPs of an
iteration (torch.utils.flop_counter) over its time is the achieved rate, compared with the dense TF32
peak of the datasheet. VGG19's convolutions are large and dense, so this is the tool that should come
nearest the peak; a low fraction says the time goes elsewhere (launches, .item() syncs, L-BFGS).

``throughput``: fast style, CycleGAN and DCGAN forward passes in batches, images per second in float32
and under autocast (bfloat16, float16), each in NCHW and channels_last, with the largest difference
from the float32 output (what the faster variants cost in accuracy) and the peak memory.
"""

from __future__ import annotations

import re
import traceback
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench import gpu_common as common
from bench.gpu_common import Outcome, Plan
from ml.common.sample_scene import sample_brushwork, sample_scene
from ml.cyclegan import infer as cyclegan_infer
from ml.dcgan import infer as dcgan_infer
from ml.fast_style import infer as fast_style_infer
from ml.features import infer as features_infer
from ml.style.config import StyleConfig
from ml.style.infer import stylize
from ml.style.model import Objective

# Dense TF32 tensor-core peaks in TFLOPS from NVIDIA's datasheets, which print twice these "with
# sparsity" (2:4 structured sparsity, which dense convolutions cannot use). The H200 has the H100's
# SMs and clocks; NVL parts are the datasheet's sparse figure halved. Matched as whole words of
# torch.cuda.get_device_name(), most specific first ("NVIDIA H100 80GB HBM3" is the SXM part).
TF32_DENSE_TFLOPS = (
    ("H100 NVL", 417.5),
    ("H100 PCIe", 378.0),
    ("H100", 494.7),
    ("H200 NVL", 417.5),
    ("H200", 494.7),
    ("A100", 156.0),
    ("L4", 60.0),
)


def tf32_peak(name: str) -> float | None:
    """The dense TF32 peak of the device called ``name``, or None when the table does not know it."""
    for key, tflops in TF32_DENSE_TFLOPS:
        if re.search(rf"\b{re.escape(key)}\b", name):
            return tflops
    return None


def gatys(plan: Plan) -> Outcome:
    device, described = common.open_device(plan)
    out = Outcome(device=described)
    side = plan.gatys_side
    cfg = StyleConfig(steps=plan.gatys_stylize_steps, max_side=side, scales=(1.0,), preview_every=10**6)
    layers = tuple(sorted({*cfg.style_layer_weights, cfg.content_layer}))
    checkpoint, source = common.features_checkpoint("vgg19")  # VGG19's roofline: its weights do not change it
    common.fresh_peak(device)
    features = features_infer.load(checkpoint, layers, device=device)
    content, style = sample_scene((side, side)), sample_brushwork((side, side))
    objective = Objective(cfg, features[0], "vgg19-gpu-check", content, style, device)
    x = objective.content_t.clone().requires_grad_(True)

    def iteration() -> None:
        x.grad = None
        objective(x)[0].backward()

    iteration()  # cuDNN chooses its kernels on the first one; the counter wants a settled graph
    with FlopCounterMode(display=False) as counter:
        iteration()
    flops = counter.get_total_flops()
    seconds = common.per_call(iteration, device, 3 * plan.seconds, plan.warmup, plan.least)
    achieved = flops / seconds / 1e12
    run = stylize(cfg, content, style, device=device, features=features)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    peak = tf32_peak(name)
    roofline = (f"{flops / peak / 1e9:.2f} ms at the dense TF32 peak of {peak:g} TFLOPS ({name}; "
                f"{2 * peak:g} with 2:4 sparsity, which dense convolutions cannot use): "
                f"**{100 * achieved / peak:.1f} % of peak**" if peak else
                f"no TF32 peak known for {name!r}: achieved rate only")
    out.lines += [
        f"VGG19 with {source}, cut after conv5_1 as the style tool cuts it, one {side}x{side} image, "
        f"Udacity layer weights; one iteration = the objective's forward + backward (what one L-BFGS "
        "evaluation costs).",
        "",
        f"- FLOPs per iteration (torch.utils.flop_counter, forward + backward): {flops / 1e9:,.1f} GFLOP",
        f"- time per iteration: **{seconds * 1000:.2f} ms** (mean over {3 * plan.seconds:g} s or more, after "
        f"{plan.warmup + 2} untimed)",
        f"- achieved: **{achieved:.3g} TFLOPS**",
        f"- roofline: {roofline}",
        f"- whole `stylize` call, {run.steps_done} single-scale L-BFGS steps at {side} px: {run.seconds:.2f} "
        f"s, {1000 * run.seconds / run.steps_done:.2f} ms per step (setup, Grams and the optimiser included)",
        f"- peak memory (MiB): {common.peak_mib(device)}",
    ]
    return out


def batch_models(plan: Plan, device: torch.device) -> dict[str, tuple[torch.nn.Module, torch.Tensor, str]]:
    """Each image tool's network with a batch of inputs in its range, on ``device``."""
    gen = torch.Generator().manual_seed(0)
    b, s = plan.speed_batch, plan.speed_side
    photos = torch.rand(b, 3, s, s, generator=gen)
    fast, fast_source = common.fast_style_checkpoint()
    cycle, cycle_source = common.cyclegan_checkpoint()
    faces, faces_source = common.dcgan_checkpoint()
    generator = dcgan_infer.load(faces, device)
    z = dcgan_infer.draw(generator.nz, plan.dcgan_batch, 0)
    return {
        "fast style": (fast_style_infer.load(fast, device).net, photos.to(device),
                       f"{b}x{s} px, {fast_source}"),
        "CycleGAN": (cyclegan_infer.load(cycle, device), (photos * 2 - 1).to(device),
                     f"{b}x{s} px, {cycle_source}"),
        "DCGAN": (generator, z.to(device), f"{plan.dcgan_batch} latents, {faces_source}"),
    }


VARIANTS: tuple[tuple[str, torch.dtype | None, bool], ...] = tuple(
    (f"{label} {'channels_last' if last else 'NCHW'}", dtype, last)
    for label, dtype in (("fp32", None), ("bf16 autocast", torch.bfloat16), ("fp16 autocast", torch.float16))
    for last in (False, True))


def forward(model: torch.nn.Module, x: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    with torch.inference_mode(), torch.autocast(x.device.type, dtype=dtype or torch.float32,
                                                enabled=dtype is not None):
        out: torch.Tensor = model(x)
    return out


def throughput(plan: Plan) -> Outcome:
    device, described = common.open_device(plan)
    out = Outcome(device=described)
    out.lines += ["| model | batch | variant | images/s | ms per batch | x vs fp32 NCHW | max abs diff | "
                  "peak MiB |", "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, (model, x, batch) in batch_models(plan, device).items():
        reference = forward(model, x, None).float()
        base: float | None = None
        for variant, dtype, last in VARIANTS:
            try:
                seconds, diff = measure(plan, model, x, dtype, last, reference)
            except Exception as exc:  # an unsupported dtype or layout must not end the others
                out.problems.append(f"{name} {variant}: {exc!r}\n{traceback.format_exc()}")
                out.lines.append(f"| {name} | {batch} | {variant} | failed: {type(exc).__name__} | | | | |")
                continue
            base = base or seconds
            rate = x.shape[0] / seconds
            out.lines.append(f"| {name} | {batch} | {variant} | {rate:,.1f} | {seconds * 1000:.2f} | "
                             f"x{base / seconds:.2f} | {diff:.2g} | {common.peak_mib(device)} |")
        model.to(memory_format=torch.contiguous_format)
    out.lines += ["", "Outputs in the models' own ranges (fast style 0..1, CycleGAN and DCGAN -1..1); fp32 "
                  "convolutions use TF32 when cuDNN allows it (the flags are in the device line)."]
    return out


def measure(plan: Plan, model: torch.nn.Module, x: torch.Tensor, dtype: torch.dtype | None, last: bool,
            reference: torch.Tensor) -> tuple[float, float]:
    """Seconds per batch of one variant, and its largest difference from the float32 output."""
    layout = torch.channels_last if last else torch.contiguous_format
    model.to(memory_format=layout)
    inputs: Any = x.contiguous(memory_format=layout) if x.dim() == 4 and x.shape[-1] > 1 else x
    common.fresh_peak(x.device)
    seconds = common.per_call(lambda: forward(model, inputs, dtype), x.device, plan.seconds, plan.warmup,
                              plan.least)
    diff = (forward(model, inputs, dtype).float() - reference).abs().max().item()
    return seconds, diff
