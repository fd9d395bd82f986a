"""Model cache: what a second job saves by finding its model loaded, and what eviction frees.

python -m bench.model_cache [--device cpu|cuda]

For each starter checkpoint (built from the installed registry packages, like
manage.py install_starter_models): the time to load it from a file (miss: read, weights_only
unpickle, build, move to the device) against the time to get it from the cache (hit). Then a cache
bounded below the sum evicts the oldest, and the memory it held is measured before and after:
torch.cuda.memory_allocated on CUDA, the process's resident set on CPU.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections.abc import Callable
from typing import Any

import torch

from ml.common.checkpoint import load_checkpoint
from ml.common.device import pick_device
from ml.common.family import load_model
from ml.common.model_cache import ModelCache
from ml.families import get_family


def starter_checkpoints() -> dict[str, bytes]:
    from ml.cyclegan.formats import import_cyclegan
    from ml.cyclegan.starter import find_vintagify_weights
    from ml.dcgan.formats import import_dcgan
    from ml.dcgan.starter import find_gan_face_weights
    from ml.fast_style.formats import import_multistyle_onnx
    from ml.features.formats import import_efficientnet_lite0

    made: dict[str, Any] = {
        "dcgan": import_dcgan(find_gan_face_weights()),  # type: ignore[arg-type]
        "cyclegan": import_cyclegan(find_vintagify_weights()),  # type: ignore[arg-type]
        "fast-style": import_multistyle_onnx(),
        "style-features": import_efficientnet_lite0(),
    }
    files = {}
    for name, checkpoint in made.items():
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        files[name] = buffer.getvalue()
    return files


def loader(data: bytes, device: torch.device) -> Callable[[], torch.nn.Module]:
    def load() -> torch.nn.Module:
        checkpoint = load_checkpoint(io.BytesIO(data))
        # As a worker loads a catalog version: validated when it was added.
        return load_model(get_family(checkpoint["family"]), checkpoint, torch.nn.Module, device=device,
                          validate=False)

    return load


def resident_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory(device: torch.device) -> str:
    if device.type == "cuda":
        torch.cuda.synchronize()
        return f"cuda memory_allocated {torch.cuda.memory_allocated() / 2**20:.1f} MiB"
    return f"resident {resident_bytes() / 2**20:.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    files = starter_checkpoints()
    print(f"device: {device}; torch threads {torch.get_num_threads()}")

    cache = ModelCache(max_bytes=1 << 40)
    for name, data in files.items():
        miss = cache.get(name, loader(data, device))
        start = time.perf_counter()
        hit = cache.get(name, loader(data, device))
        hit_seconds = time.perf_counter() - start
        assert hit.hit and hit.value is miss.value
        print(f"{name:15s} {len(data) / 2**20:6.1f} MiB file, {miss.nbytes / 2**20:6.1f} MiB weights: "
              f"load {miss.load_seconds * 1000:8.1f} ms, cached {hit_seconds * 1000:6.3f} ms "
              f"({miss.load_seconds / max(hit_seconds, 1e-9):,.0f}x)")

    sizes = {name: cache.get(name, loader(data, device)).nbytes for name, data in files.items()}
    del miss, hit
    cache.clear()

    # A bound just below the total: loading the last model evicts the least recently used one.
    bounded = ModelCache(max_bytes=sum(sizes.values()) - 1)
    for name, data in files.items():
        bounded.get(name, loader(data, device))
    print(f"bound {bounded.max_bytes / 2**20:.1f} MiB: evicted {[e['key'] for e in bounded.evictions]}, "
          f"kept {bounded.keys()}")
    before = memory(device)
    bounded.clear()
    after = memory(device)
    print(f"with {len(sizes) - 1} models loaded: {before}; after evicting them: {after}")

if __name__ == "__main__":
    main()
