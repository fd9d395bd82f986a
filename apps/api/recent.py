"""What the invokes looked up in the last second or so, kept in the process: the token behind an
``Authorization`` header (apps/api/auth.py) and an endpoint's routing table (apps/api/invoke.py).
A busy client then costs no database query per request, and a change (a revoked token, new
weights) reaches the invokes within ``seconds``."""

from __future__ import annotations

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
        Recent.every.append(self)  # type: ignore[arg-type]

    async def get(self, key: str, load: Callable[[], Awaitable[V]]) -> V:
        """The value ``load`` gave for ``key`` less than ``seconds`` ago, or a fresh one."""
        now = time.monotonic()
        known = self._values.get(key)
        if known is not None and known[0] >= now:
            return known[1]
        if len(self._values) >= self.max_keys:
            for old in [k for k, (until, _) in self._values.items() if until < now]:
                del self._values[old]
        value = await load()
        self._values[key] = (now + self.seconds, value)
        return value

    def clear(self) -> None:
        self._values.clear()
