"""``POST /api/tools/sentiment/invoke``: score a text and answer in the same request, for programs
that cannot wait for a job. The request goes to the batching server (apps/serving/batcher.py,
``manage.py serve_invoke``) through Redis, which scores concurrent requests together; this view
waits for its answer, up to STUDIO_INVOKE_TIMEOUT_S."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from django.http import HttpRequest
from ninja import Schema
from ninja.responses import Status

from apps.serving.batcher import QUEUE, reply_key
from apps.tools.sentiment import SentimentForm

from .schemas import ErrorOut

INVOKE_MAX_BYTES = 64 * 1024  # a request body larger than this is refused before it is parsed


class InvokeIn(Schema):
    text: str


class InvokeOut(Schema):
    label: str
    probability: float
    model: str  # the version that answered
    batch: int  # how many requests shared its forward pass


_clients: dict[int, aioredis.Redis] = {}


def _client() -> aioredis.Redis:
    """One connection pool per event loop (daphne has one per process)."""
    loop = id(asyncio.get_running_loop())
    if loop not in _clients:
        _clients[loop] = aioredis.Redis.from_url(settings.REDIS_URL)
    return _clients[loop]


def register(api: Any) -> None:
    responses = {200: InvokeOut, 400: ErrorOut, 413: ErrorOut, 504: ErrorOut}

    @api.post("/tools/sentiment/invoke", response=responses,
              summary="Score a text now (synchronous, dynamically batched)")
    async def invoke_sentiment(request: HttpRequest, body: InvokeIn) -> Status[dict[str, Any]]:
        if len(request.body) > INVOKE_MAX_BYTES:
            return Status(413, {"detail": f"the request is over {INVOKE_MAX_BYTES:,} bytes"})
        form = SentimentForm(data={"text": body.text})  # the same checks as the sentiment page
        if not form.is_valid():
            return Status(400, {"detail": " ".join(str(m) for m in form.errors["text"])})
        request_id = uuid.uuid4().hex
        client = _client()
        await client.rpush(QUEUE, json.dumps({"id": request_id, "text": body.text}))
        answer = await client.blpop([reply_key(request_id)], timeout=settings.STUDIO_INVOKE_TIMEOUT_S)
        if answer is None:
            return Status(504, {"detail": f"no answer within {settings.STUDIO_INVOKE_TIMEOUT_S:g} s: is "
                                          "`manage.py serve_invoke` running?"})
        reply = json.loads(answer[1])
        if "error" in reply:
            return Status(504, {"detail": f"the invoke server failed: {reply['error']}"})
        return Status(200, reply)
