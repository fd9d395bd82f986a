"""The live stream of one job: replay what the client missed, then forward new events."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from . import events
from .models import Job

NOT_ALLOWED = 4403


class JobConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        if user is None or not user.is_authenticated or not await self._owns(user, job_id):
            await self.close(code=NOT_ALLOWED)
            return
        self.group = f"job-{job_id}"
        self.job_id = job_id
        self.sent_seq = _after(self.scope.get("query_string", b""))
        await self.accept()
        # Join first, then replay: an event stored in between arrives twice and is dropped below,
        # rather than not at all.
        await self.channel_layer.group_add(self.group, self.channel_name)
        for event in await self._events_after(self.sent_seq):
            await self._send_event(event)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The client may ask for a replay after a given sequence (job.js asks when the job has
        # been quiet for a while: a lost push of its last event would otherwise leave the page
        # waiting).
        if isinstance(content, dict) and isinstance(content.get("after"), int):
            self.sent_seq = min(self.sent_seq, content["after"])
            for event in await self._events_after(content["after"]):
                await self._send_event(event)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels (4.2 and later) runs close_old_connections() before every handler, in a thread:
        # one hop through the single thread that sync_to_async shares. A job event touches no
        # database, and with 300 sockets on one job each event made 300 such hops queued one behind
        # another, so the last page saw it up to seconds after the first (issue 17). Everything
        # here that does touch the database goes through database_sync_to_async, which closes old
        # connections itself.
        if message["type"] == "job.event":
            await self.job_event(message)
        else:
            await super().dispatch(message)

    async def job_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event["seq"] > self.sent_seq + 1:
            # A gap: a push was lost (Redis restarted; pub/sub delivers at most once) or two
            # processes' pushes crossed. Every event is stored before it is pushed, so the
            # database has the missing ones; sent in order, the late push is then dropped below.
            for missed in await self._events_after(self.sent_seq):
                await self._send_event(missed)
        await self._send_event(event)

    async def _send_event(self, event: dict[str, Any]) -> None:
        if event["seq"] > self.sent_seq:
            self.sent_seq = event["seq"]
            await self.send_json(event)

    @database_sync_to_async
    def _owns(self, user: Any, job_id: str) -> bool:
        return Job.objects.filter(pk=job_id, owner=user).exists()

    @database_sync_to_async
    def _events_after(self, seq: int) -> list[dict[str, Any]]:
        return events.after(self.job_id, seq)  # all it missed, however many


def _after(query_string: bytes) -> int:
    values = parse_qs(query_string.decode()).get("after", ["0"])
    try:
        return max(0, int(values[0]))
    except ValueError:
        return 0
