"""A child of the one-command run that exits is started again after 1, 2, 4 ... 30 s, the wait
going back to 1 s once it has stayed up a minute; one line says so; the dead child's process group
is reaped first; shutting down during a back-off starts nothing. Fake children and a fake clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apps.embedded.restarts import Backoff, Kept


class FakeChild:
    def __init__(self, name: str, pid: int) -> None:
        self.name, self._pid = name, pid
        self.returncode: int | None = None
        self.stopped: list[float] = []

    @property
    def pid(self) -> int:
        return self._pid

    def running(self) -> bool:
        return self.returncode is None

    def exit(self, code: int) -> None:
        self.returncode = code

    def stop(self, grace: float, *, polite: Callable[[], None] | None = None) -> int:
        self.stopped.append(grace)
        if self.returncode is None:
            self.returncode = -15
        return self.returncode


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def kept_fakes(clock: Clock, on_restart: Callable[[], None] | None = None) -> tuple[Kept, list[FakeChild]]:
    started: list[FakeChild] = []

    def start() -> FakeChild:
        started.append(FakeChild("invoke", 100 + len(started)))
        return started[-1]

    return Kept("invoke", start, clock=clock, on_restart=on_restart), started


def test_the_waits_double_up_to_30_s() -> None:
    backoff = Backoff()
    assert [backoff.delay(uptime=0.5) for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_the_wait_goes_back_to_1_s_after_a_minute_up() -> None:
    backoff = Backoff()
    assert [backoff.delay(5), backoff.delay(5), backoff.delay(5)] == [1, 2, 4]
    assert backoff.delay(uptime=60) == 1
    assert backoff.delay(uptime=59) == 2


def test_a_child_that_exits_is_started_again_after_its_wait(
        clock: Clock, capsys: pytest.CaptureFixture[str]) -> None:
    kept, started = kept_fakes(clock)
    clock.now += 12
    kept.check()
    assert len(started) == 1 and kept.running()

    started[0].exit(1)
    kept.check()
    assert started[0].stopped == [0]  # reaped, and its process group killed
    assert not kept.running()
    assert capsys.readouterr().out == (
        "studio  | invoke exited with status 1 after 12 s; starting it again in 1 s\n")
    clock.now += 0.9
    kept.check()
    assert len(started) == 1
    clock.now += 0.1
    kept.check()
    assert len(started) == 2 and kept.child is started[1] and kept.running()
    assert kept.restarts == 1 and capsys.readouterr().out == ""


def test_a_child_that_keeps_exiting_waits_longer_each_time(
        clock: Clock, capsys: pytest.CaptureFixture[str]) -> None:
    kept, started = kept_fakes(clock)
    waits = []
    for _ in range(7):
        started[-1].exit(1)
        kept.check()
        assert kept.restart_at is not None
        waits.append(kept.restart_at - clock.now)
        clock.now = kept.restart_at
        kept.check()
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert len(started) == 8
    assert len(capsys.readouterr().out.splitlines()) == 7  # one line per exit


def test_a_child_that_stayed_up_a_while_is_restarted_after_1_s_again(clock: Clock) -> None:
    kept, started = kept_fakes(clock)
    for _ in range(3):
        started[-1].exit(1)
        kept.check()
        clock.now = kept.restart_at or 0
        kept.check()
    clock.now += 61
    started[-1].exit(1)
    kept.check()
    assert kept.restart_at == clock.now + 1


def test_each_restart_runs_the_hook(clock: Clock) -> None:
    calls: list[int] = []
    kept, started = kept_fakes(clock, on_restart=lambda: calls.append(kept.child.pid))
    started[0].exit(0)  # a clean exit is restarted too: only Ctrl-C stops the studio
    kept.check()
    clock.now += 1
    kept.check()
    assert calls == [101]


def test_stopping_during_a_back_off_starts_nothing(clock: Clock) -> None:
    kept, started = kept_fakes(clock)
    started[0].exit(1)
    kept.check()
    kept.stop(5)
    assert len(started) == 1 and not kept.running()


def test_stopping_a_running_child_asks_it_with_the_grace(clock: Clock) -> None:
    kept, started = kept_fakes(clock)
    kept.stop(5)
    assert started[0].stopped == [5] and not kept.running()
