"""Keeping the one-command run's children up: a child that exits (a crash, Redis gone for longer
than its client waits, an OOM kill) is started again after a back-off, instead of taking the whole
studio down with it. Only Ctrl-C or SIGTERM stops runstudio."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from apps.embedded.supervisor import say


class ChildProcess(Protocol):
    """What the keeper needs of a child (apps/embedded/supervisor.Child; fakes in the tests)."""

    name: str

    @property
    def pid(self) -> int: ...

    def running(self) -> bool: ...

    @property
    def returncode(self) -> int | None: ...

    def stop(self, grace: float, *, polite: Callable[[], None] | None = None) -> int: ...


class Backoff:
    """Waits of 1, 2, 4 ... up to ``ceiling`` seconds between starts of a child that keeps exiting;
    back to the first wait once it has stayed up ``settled_after`` seconds (the fault has passed, so
    the next exit is a new one)."""

    def __init__(self, first: float = 1.0, ceiling: float = 30.0, settled_after: float = 60.0) -> None:
        self.first, self.ceiling, self.settled_after = first, ceiling, settled_after
        self._next = first

    def delay(self, uptime: float) -> float:
        """The wait before starting again a child that ran for ``uptime`` seconds."""
        if uptime >= self.settled_after:
            self._next = self.first
        delay = self._next
        self._next = min(self._next * 2, self.ceiling)
        return delay


class Kept:
    """One child kept running: ``start()`` makes it, and makes it again after each exit once its
    back-off has passed. ``check()`` is called from the launcher's watch loop; it never blocks, so
    the other children and Ctrl-C are seen to meanwhile. ``on_restart`` runs after each new start."""

    def __init__(self, name: str, start: Callable[[], ChildProcess], *,
                 backoff: Backoff | None = None, on_restart: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._start, self._on_restart, self._clock = start, on_restart, clock
        self.backoff = backoff or Backoff()
        self.child = start()
        self.started_at = clock()
        self.restart_at: float | None = None
        self.restarts = 0

    def running(self) -> bool:
        return self.restart_at is None and self.child.running()

    def check(self) -> None:
        now = self._clock()
        if self.restart_at is None:
            if self.child.running():
                return
            code = self.child.returncode
            # Reap it and whatever it left in its process group (Celery's pool, uvicorn's workers,
            # which would hold the port the next start needs).
            self.child.stop(0)
            uptime = now - self.started_at
            delay = self.backoff.delay(uptime)
            self.restart_at = now + delay
            say("studio", f"{self.name} exited with status {code} after {uptime:.0f} s; "
                          f"starting it again in {delay:g} s")
        elif now >= self.restart_at:
            self.child = self._start()
            self.started_at, self.restart_at = now, None
            self.restarts += 1
            if self._on_restart:
                self._on_restart()

    def stop(self, grace: float, polite: Callable[[], None] | None = None) -> None:
        """Stop for good (the launcher is shutting down); see supervisor.Child.stop."""
        self.restart_at = None
        self.child.stop(grace, polite=polite)
