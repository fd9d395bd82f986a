"""What the invokes looked up in the last second or so, kept in the process: the token behind an
``Authorization`` header (apps/api/auth.py) and an endpoint's routing table (apps/api/invoke.py).
A busy client then costs no database query per request, and a change (a revoked token, new
weights) reaches the invokes within ``seconds``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class Recent(Generic[V]):
    every: list[Recent[object]] = []  # noqa: RUF012  (each one made, so tests can empty them all)

    def __init__(self, seconds: float, max_keys: int = 10_000) -> None:
        self.seconds = seconds
        self.max_keys = max_keys  # past it, the expired entries are dropped
        self._values: dict[str, tuple[float, V]] = {}
        self._loading: dict[str, asyncio.Future[V]] = {}
        Recent.every.append(self)  # type: ignore[arg-type]

    async def get(self, key: str, load: Callable[[], Awaitable[V]]) -> V:
        """The value ``load`` gave for ``key`` less than ``seconds`` ago, or a fresh one.

        Callers that miss while a load is under way wait for that one: when the value expires
        under load, the 64 requests then in flight would otherwise each query the database (each
        in a thread and connection of its own). The load is shielded, so one caller's cancelled
        request does not cancel it for the others."""
        now = time.monotonic()
        known = self._values.get(key)
        if known is not None and known[0] >= now:
            return known[1]
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(key, load))
        return await asyncio.shield(loading)

    async def _load(self, key: str, load: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await load()
        finally:
            self._loading.pop(key, None)
        now = time.monotonic()
        if len(self._values) >= self.max_keys:
            for old in [k for k, (until, _) in self._values.items() if until < now]:
                del self._values[old]
        self._values[key] = (now + self.seconds, value)
        return value

    def clear(self) -> None:
        self._values.clear()
        self._loading.clear()
