"""Writing a job's history: every change is an event with the next sequence number, stored first
(the DB is the truth) and then pushed to the channel-layer group `job-<id>`."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from .models import TERMINAL_STATES, TRANSITIONS, Job, JobEvent, JobState
from .per_process import PerProcess

log = logging.getLogger(__name__)


# Sent once a job has reached a terminal state and that is committed (kwargs: job_id, state); e.g.
# the API's webhooks listen (apps/api/webhooks.py).
job_finished = Signal()


class Superseded(Exception):
    """The attempt writing is no longer the job's current one: the job was taken back from a worker
    presumed dead (apps/jobs/reaper.py), or it has ended. The writer stops and writes nothing more."""


def record_first(job: Job, data: dict[str, Any]) -> JobEvent:
    """The first event of a job created with ``last_seq=1`` in the caller's transaction: its state.

    Cheaper than ``record``: no other writer can know the job before that transaction commits, so
    seq 1 needs no counter round trip (UPDATE + SELECT), and no page can be listening to its group
    yet, so the event is not pushed (a page replays the stored events when it connects).
    """
    assert job.last_seq == 1 and transaction.get_connection().in_atomic_block
    return JobEvent.objects.create(job=job, seq=1, kind="state", data=data)


def record(job: Job, kind: str, data: dict[str, Any], *, attempt: int | None = None,
           **fields: Any) -> JobEvent:
    """Append one event (and update job columns in the same transaction).

    ``attempt``: the worker's attempt number (its fencing token). The write happens only while the
    job is running that attempt; otherwise Superseded, and nothing is written. Web-side writes
    (a cancel request) pass none.
    """
    with transaction.atomic():
        # The UPDATE takes the row lock, so concurrent writers (worker and web) get distinct seqs.
        rows = Job.objects.filter(pk=job.pk)
        if attempt is not None:
            # Fenced: the row must be running this attempt, so it is not finished, and the columns
            # go in the same UPDATE (one statement fewer per progress event).
            rows = rows.filter(attempts=attempt, state=JobState.RUNNING)
            if not rows.update(last_seq=F("last_seq") + 1, **fields):
                raise Superseded(f"job {job.pk}: attempt {attempt} is no longer running")
        else:
            rows.update(last_seq=F("last_seq") + 1)
            if fields:
                # A finished job's columns are final: a late web-side write must not overwrite the
                # message that ended it.
                Job.objects.filter(pk=job.pk).exclude(state__in=TERMINAL_STATES).update(**fields)
        seq = Job.objects.filter(pk=job.pk).values_list("last_seq", flat=True).get()
        event = JobEvent.objects.create(job_id=job.pk, seq=seq, kind=kind, data=data)
    for name, value in fields.items():
        setattr(job, name, value)
    job.last_seq = seq
    _push(job.pk, event.as_message())
    return event


def transition(job: Job, to: str, message: str = "", *, attempt: int | None = None, **fields: Any) -> bool:
    """Move the job to state `to` if the state machine allows it from where the row is *now*
    (and, given ``attempt``, only while the job is running that attempt, as record()).

    Returns False (and changes nothing) when another process got there first, e.g. a job that
    succeeded while a cancel was on its way.
    """
    sources = [state for state, targets in TRANSITIONS.items() if to in targets]
    if to in TERMINAL_STATES:
        fields.setdefault("finished_at", timezone.now())
    rows = Job.objects.filter(pk=job.pk, state__in=sources)
    if attempt is not None:
        rows = rows.filter(attempts=attempt, state=JobState.RUNNING)
    with transaction.atomic():
        moved = rows.update(
            state=to, message=message[:500], last_seq=F("last_seq") + 1, **fields
        )
        if not moved:
            return False
        if to in TERMINAL_STATES:
            job_id = job.pk
            transaction.on_commit(lambda: job_finished.send(sender=Job, job_id=job_id, state=to))
        # Its last_seq is this event's: the UPDATE above holds the row. The owner comes with it (a
        # refresh drops the cached one): the running job's tool context reads it next.
        job.refresh_from_db(from_queryset=Job.objects.select_related("owner"))
        seq = job.last_seq
        data = {"state": to, "message": job.message, "error": job.error,
                "step": job.step, "total": job.total}
        event = JobEvent.objects.create(job_id=job.pk, seq=seq, kind="state", data=data)
    _push(job.pk, event.as_message())
    return True


def after(job_id: Any, seq: int, limit: int | None = None) -> list[dict[str, Any]]:
    """The job's events after sequence number ``seq``, in order, as the WebSocket sends them (at most
    ``limit``). The WebSocket's replay, the JSON poll and the API's event stream all read this."""
    stored = JobEvent.objects.filter(job_id=job_id, seq__gt=seq).order_by("seq")
    return [e.as_message() for e in (stored[:limit] if limit is not None else stored)]


# The most events one answer of the JSON poll or of the API's stream carries; the client (or the
# stream's next round) asks again from the last one. The WebSocket replays all it missed at once.
REPLAY_LIMIT = 500


_held = threading.local()  # .pushes: the pushes of the events.atomic() block this thread is in


@contextmanager
def atomic() -> Iterator[None]:
    """One transaction for several writes: one commit (on SQLite, an fsync) instead of one each.
    The events recorded inside are pushed in order once the outermost such block has committed (or,
    inside a plain transaction.atomic(), ended), so no push announces an event that is not stored.
    Rolled back: none is pushed."""
    pushes: list[tuple[Any, dict[str, Any]]] | None = getattr(_held, "pushes", None)
    if pushes is not None:  # nested: the outer block pushes
        start = len(pushes)
        try:
            with transaction.atomic():
                yield
        except BaseException:
            del pushes[start:]
            raise
        return
    _held.pushes = pushes = []
    try:
        with transaction.atomic():
            yield
    finally:
        _held.pushes = None
    for job_id, message in pushes:
        broadcast(job_id, message)


def _push(job_id: Any, message: dict[str, Any]) -> None:
    pushes = getattr(_held, "pushes", None)
    if pushes is None:
        broadcast(job_id, message)
    else:
        pushes.append((job_id, message))


def broadcast(job_id: Any, message: dict[str, Any]) -> None:
    """Best effort: a browser that misses a push catches up from the DB when it reconnects. The
    push is sent in the background, after the ones this process made before it."""
    layer = get_channel_layer()
    if layer is None:
        return
    group, event = f"job-{job_id}", {"type": "job.event", "event": message}
    if isinstance(layer, InMemoryChannelLayer):
        # Its queues belong to this process's event loops (the unit tests' consumers).
        try:
            async_to_sync(layer.group_send)(group, event)
        except Exception:
            log.warning("could not push event for job %s", job_id, exc_info=True)
        return
    _pusher().send(layer, group, event)


def flush_pushes(timeout: float) -> bool:
    """Wait until this process's pushes are sent (or given up); False if ``timeout`` ran out first.
    For a process about to end: the pushes left would be lost with it."""
    pusher = _pushers.made()
    return pusher is None or pusher.flush(timeout)


# A push that takes longer than this is given up (and logged); the job goes on.
PUSH_TIMEOUT_SECONDS = 5.0
# Pushes waiting to be sent, at most (Redis away for long); past it, new ones are dropped and logged.
MAX_PENDING_PUSHES = 1000


class _Pusher:
    """One event loop per process, in a daemon thread, that sends every push.

    async_to_sync from a thread without a loop (a Celery worker, the cancel watchdog) makes a new
    loop for each call, and channels_redis keeps its connections per loop: a new Redis connection
    for every event (about 8 ms) instead of a kept one (under 1 ms).

    The caller does not wait for its push: a push is a few Redis round trips plus two thread
    hand-offs, 1 ms on a quiet machine and 6-12 ms measured while other processes loaded the cores,
    and a job waited for each of its running and progress events (bench/job_overhead.py). The
    pushes go out one at a time in the order they were made, so a job's stay in order (the
    consumer drops an event older than the last it sent). ``flush`` waits for them all.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._queue: asyncio.Queue[tuple[BaseChannelLayer, str, dict[str, Any]]] = asyncio.Queue()
        self._pending = 0  # sent to the loop and not yet done with; guarded by _done
        self._done = threading.Condition()
        threading.Thread(target=self.loop.run_forever, name="event-push", daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._send_in_order(), self.loop)

    def run(self, coro: Coroutine[Any, Any, None], timeout: float) -> None:
        """Run ``coro`` on the loop and wait for it (e.g. closing the layer's pools)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def send(self, layer: BaseChannelLayer, group: str, event: dict[str, Any]) -> None:
        with self._done:
            if self._pending >= MAX_PENDING_PUSHES:
                log.warning("%s pushes waiting already; dropped one for %s", self._pending, group)
                return
            self._pending += 1
            # Under the lock: two threads' pushes reach the queue in the order they were counted.
            self.loop.call_soon_threadsafe(self._queue.put_nowait, (layer, group, event))

    async def _send_in_order(self) -> None:
        while True:
            layer, group, event = await self._queue.get()
            try:
                await asyncio.wait_for(layer.group_send(group, event), PUSH_TIMEOUT_SECONDS)
            except Exception:  # Redis down must not fail the job; the event is already stored.
                log.warning("could not push event for %s", group, exc_info=True)
            finally:
                with self._done:
                    self._pending -= 1
                    self._done.notify_all()

    def flush(self, timeout: float) -> bool:
        with self._done:
            return self._done.wait_for(lambda: self._pending == 0, timeout)


_pushers = PerProcess(_Pusher)  # a forked child has the parent's loop but not its thread


def _pusher() -> _Pusher:
    return _pushers.get()


# A process that ends normally sends what it has left (a Celery pool process ends without atexit:
# apps/jobs/signals.py flushes there).
atexit.register(flush_pushes, PUSH_TIMEOUT_SECONDS)
