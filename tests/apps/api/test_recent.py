"""apps/api/recent.py: what the invokes remember for a second, loaded once however many ask."""

from __future__ import annotations

import asyncio

import pytest

from apps.api.recent import Recent

pytestmark = pytest.mark.unit


def test_callers_that_miss_together_share_one_load() -> None:
    memory: Recent[int] = Recent(seconds=60)
    calls: list[int] = []

    async def load() -> int:
        calls.append(1)
        await asyncio.sleep(0.01)
        return 42

    async def many() -> list[int]:
        return list(await asyncio.gather(*(memory.get("k", load) for _ in range(64))))

    assert asyncio.run(many()) == [42] * 64
    assert len(calls) == 1
    assert asyncio.run(many()) == [42] * 64 and len(calls) == 1  # remembered


def test_one_cancelled_caller_does_not_cancel_the_load_for_the_others() -> None:
    memory: Recent[str] = Recent(seconds=60)

    async def load() -> str:
        await asyncio.sleep(0.05)
        return "token row"

    async def scene() -> str:
        first = asyncio.ensure_future(memory.get("k", load))
        second = asyncio.ensure_future(memory.get("k", load))
        await asyncio.sleep(0.01)
        first.cancel()
        return await second

    assert asyncio.run(scene()) == "token row"


def test_a_failed_load_is_not_remembered() -> None:
    memory: Recent[int] = Recent(seconds=60)
    answers = iter([RuntimeError("database restarting"), 7])

    async def load() -> int:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with pytest.raises(RuntimeError, match="restarting"):
        asyncio.run(memory.get("k", load))
    assert asyncio.run(memory.get("k", load)) == 7
