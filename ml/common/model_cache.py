"""A per-process cache of loaded models, bounded by the memory their tensors take.

A worker serves many jobs with the same few models; loading a checkpoint (read, unpickle, build,
move to the device) costs far more than a small job's compute. The cache keeps what it loaded and
evicts the least recently used models when the total would pass its bound. Keys name exact bytes
(family + sha256 + how it was built + device), so a newly activated version is simply a new key:
nothing needs restarting when an admin switches versions.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import torch
from torch import nn

from ml.common.inference import ATTRIBUTE as INFERENCE_COPY

log = logging.getLogger(__name__)
T = TypeVar("T")


def tensor_bytes(obj: Any) -> int:
    """Bytes held by the tensors of a module, a dict of tensors, or an object holding modules
    as attributes (one level down, e.g. a dataclass with a ``net``)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, nn.Module):
        # With its CPU inference copy (ml/common/inference.py), which is not a submodule: CycleGAN's
        # keeps Winograd weights 4x the trunk's own. Tensors the two share count once.
        modules = [obj, *(copy[1:] if (copy := obj.__dict__.get(INFERENCE_COPY)) else ())]
        tensors = {id(t): t for m in modules for t in (*m.parameters(), *m.buffers())}
        return sum(t.numel() * t.element_size() for t in tensors.values())
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values() if isinstance(v, (torch.Tensor, nn.Module)))
    if isinstance(obj, tuple):
        return sum(tensor_bytes(v) for v in obj if isinstance(v, (torch.Tensor, nn.Module)))
    return sum(tensor_bytes(v) for v in vars(obj).values()
               if isinstance(v, (torch.Tensor, nn.Module))) if hasattr(obj, "__dict__") else 0


@dataclass
class CacheResult(Generic[T]):
    value: T
    hit: bool
    load_seconds: float  # 0.0 on a hit
    nbytes: int


@dataclass
class _Entry:
    value: Any
    nbytes: int


class ModelCache:
    """Least-recently-used cache of loaded models, bounded by ``max_bytes`` of tensor memory.

    A model larger than the bound on its own is still served (the job needs it) but everything
    else is evicted to make room, and it is dropped as soon as anything else is loaded.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions: list[dict[str, Any]] = []  # what each eviction freed, newest last

    def get(self, key: Hashable, load: Callable[[], T]) -> CacheResult[T]:
        with self._lock:  # one load at a time: two threads never build the same model twice
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                # Counted again: since its load the model may have grown an inference copy.
                entry.nbytes = tensor_bytes(entry.value)
                while len(self._entries) > 1 and self.nbytes > self.max_bytes:
                    self._evict_oldest()  # the others, oldest first: this one is the newest now
                return CacheResult(entry.value, True, 0.0, entry.nbytes)
            start = time.perf_counter()
            value = load()
            seconds = time.perf_counter() - start
            nbytes = tensor_bytes(value)
            self.misses += 1
            self._make_room(nbytes)
            self._entries[key] = _Entry(value, nbytes)
            return CacheResult(value, False, seconds, nbytes)

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self._entries.values())

    def keys(self) -> list[Hashable]:
        return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            while self._entries:
                self._evict_oldest()

    def _make_room(self, incoming: int) -> None:
        while self._entries and self.nbytes + incoming > self.max_bytes:
            self._evict_oldest()

    def _evict_oldest(self) -> None:
        key, entry = self._entries.popitem(last=False)
        nbytes = entry.nbytes
        cuda = torch.cuda.is_available()
        before = torch.cuda.memory_allocated() if cuda else None
        del entry  # the cache held the last reference; the caller's job has finished with it
        # Modules can sit in reference cycles (hooks, closures); collect them now, not later.
        gc.collect()
        after = None
        if cuda:
            torch.cuda.empty_cache()
            after = torch.cuda.memory_allocated()
        record = {"key": key, "nbytes": nbytes,
                  "cuda_allocated_before": before, "cuda_allocated_after": after}
        self.evictions.append(record)
        del self.evictions[:-20]
        log.info("model cache: evicted %s (%d bytes; cuda memory_allocated %s -> %s)",
                 key, nbytes, before, after)
