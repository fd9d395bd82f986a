"""The per-process model cache: a hit skips loading, the memory bound evicts least recently used."""

from __future__ import annotations

import gc
import weakref

import torch
from torch import nn

from ml.common.model_cache import ModelCache, tensor_bytes

MB = 1024 * 1024


def linear_of(mbytes: int) -> nn.Linear:
    """A module whose weights take about ``mbytes`` MiB (float32)."""
    return nn.Linear(mbytes * MB // 4 // 256, 256, bias=False)


def test_tensor_bytes_counts_parameters_buffers_and_wrapped_modules() -> None:
    bn = nn.BatchNorm2d(8)  # 2 x 8 params + 2 x 8 stats + 1 int64 counter
    assert tensor_bytes(bn) == 4 * 8 * 4 + 8

    class Holder:
        def __init__(self) -> None:
            self.net = nn.Linear(10, 10)  # 110 floats
            self.name = "x"

    assert tensor_bytes(Holder()) == 110 * 4
    assert tensor_bytes((nn.Linear(10, 10), "label")) == 110 * 4


def test_a_second_get_is_a_hit_and_skips_the_loader() -> None:
    cache = ModelCache(max_bytes=64 * MB)
    calls = []

    def load() -> nn.Module:
        calls.append(1)
        return linear_of(1)

    first = cache.get("a", load)
    second = cache.get("a", load)
    assert len(calls) == 1
    assert (first.hit, second.hit) == (False, True)
    assert second.value is first.value and second.load_seconds == 0.0
    assert first.nbytes == MB and (cache.hits, cache.misses) == (1, 1)


def test_it_evicts_the_least_recently_used_beyond_the_bound() -> None:
    cache = ModelCache(max_bytes=3 * MB)
    for key in "abc":
        cache.get(key, lambda: linear_of(1))
    cache.get("a", lambda: linear_of(1))  # "a" is now the most recent; "b" the oldest
    cache.get("d", lambda: linear_of(1))
    assert cache.keys() == ["c", "a", "d"]
    assert cache.nbytes <= 3 * MB
    assert [e["key"] for e in cache.evictions] == ["b"] and cache.evictions[0]["nbytes"] == MB


def test_an_evicted_model_is_really_freed() -> None:
    cache = ModelCache(max_bytes=2 * MB)
    model = cache.get("a", lambda: linear_of(2)).value
    ref = weakref.ref(model)
    del model
    cache.get("b", lambda: linear_of(2))
    gc.collect()
    assert ref() is None, "the cache must not keep an evicted model alive"


def test_a_model_larger_than_the_bound_is_served_alone() -> None:
    cache = ModelCache(max_bytes=1 * MB)
    cache.get("small", lambda: linear_of(1))
    big = cache.get("big", lambda: linear_of(3))
    assert big.value.weight.numel() * 4 == 3 * MB
    assert cache.keys() == ["big"]
    cache.get("small", lambda: linear_of(1))
    assert cache.keys() == ["small"]


def test_clear_empties_it() -> None:
    cache = ModelCache(max_bytes=8 * MB)
    cache.get("a", lambda: {"w": torch.zeros(10)})
    cache.clear()
    assert cache.keys() == [] and cache.nbytes == 0


def test_an_inference_copy_is_counted_from_the_next_use_and_makes_room() -> None:
    from ml.common.inference import inference_copy

    def linear() -> nn.Module:
        return nn.Linear(100, 100, bias=False)  # 40,000 bytes

    cache = ModelCache(max_bytes=100_000)
    old = cache.get("old", linear).value
    model = cache.get("model", linear).value
    assert cache.nbytes == 80_000 and old is not None
    inference_copy(model, lambda m: nn.Linear(100, 100, bias=False), torch.device("cpu"))
    shared = cache.get("model", linear)  # a hit: counted again, with its copy
    assert shared.hit and shared.nbytes == 80_000
    assert cache.keys() == ["model"]  # the older model made room for the copy


def test_a_copy_that_shares_the_models_weights_counts_them_once() -> None:
    from ml.common.inference import inference_copy

    model = nn.Linear(100, 100, bias=False)
    inference_copy(model, lambda m: nn.Sequential(m), torch.device("cpu"))  # shares m's weight
    assert tensor_bytes(model) == 40_000
