"""One object per process: made on first use, and made again in a forked child (a Celery pool
process), whose copy of the parent's has lost the threads that ran it."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerProcess(Generic[T]):
    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._now: T | None = None
        os.register_at_fork(after_in_child=self._forget)

    def get(self) -> T:
        with self._lock:
            if self._now is None:
                self._now = self._make()
            return self._now

    def made(self) -> T | None:
        """This process's object if it has been made (None: nothing has needed it yet)."""
        return self._now

    def _forget(self) -> None:
        self._lock, self._now = threading.Lock(), None
