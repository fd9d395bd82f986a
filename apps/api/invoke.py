"""Synchronous invokes: ``POST /api/tools/{sentiment,dcgan,fast-style}/invoke`` answer in the same
request, for programs that cannot wait for a job. The request goes through Redis to the invoke
server (apps/serving/batcher.py, ``manage.py serve_invoke``), which answers concurrent requests
together; the view waits for its answer, up to STUDIO_INVOKE_TIMEOUT_S.

Each request is routed like a job: to a variant of the tool's endpoint by weight (apps/catalog/
routing.py), or to the active version when there is no endpoint. The parameters go through the
tool's own form, with tighter size caps: an invoke is for small, fast work; bigger work is a job.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import random
import uuid
from typing import Any

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from ninja import File, Form, Schema
from ninja.files import UploadedFile
from ninja.responses import Status
from redis.exceptions import RedisError

from apps.catalog.capture import sampled
from apps.catalog.routing import Table, pick, table
from apps.catalog.tasks import record_invoke
from apps.serving.batcher import queue_key, reply_key
from apps.serving.invokers import INVOKERS
from apps.tools.dcgan import MAX_SEED, DCGANForm
from apps.tools.fast_style import FastStyleForm
from apps.tools.sentiment import SentimentForm

from .auth import AsyncTokenAuth, user_of
from .recent import Recent
from .schemas import ErrorOut
from .throttle import RateThrottle

log = logging.getLogger(__name__)

INVOKE_MAX_BYTES = 64 * 1024  # a sentiment request body larger than this is refused before parsing
INVOKE_MAX_IMAGES = 16  # DCGAN: images per invoke (a job makes up to 256)
INVOKE_MAX_SIDE = 512  # fast style: the longest side of an invoked result (a job goes to 2048)
INVOKE_MAX_PHOTO_BYTES = 8 * 1024 * 1024
PNG_RESPONSE = {"description": "The picture (image/png). Headers: X-Studio-Model (the version that "
                               "answered), X-Studio-Variant, X-Studio-Batch (requests in its pass).",
                "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}


class InvokeIn(Schema):
    text: str


class InvokeOut(Schema):
    label: str
    probability: float
    model: str  # the version that answered
    variant: str  # the endpoint variant it was routed to ("" when no endpoint)
    batch: int  # how many requests shared its forward pass


class DCGANInvokeIn(Schema):
    n: int = 1
    seed: int | None = None  # None: a random seed, sent back in X-Studio-Seed


_clients: dict[int, aioredis.Redis] = {}


def _client() -> aioredis.Redis:
    """One connection pool per event loop (daphne has one per process)."""
    loop = id(asyncio.get_running_loop())
    if loop not in _clients:
        # Reads wait longer than the BLPOP itself: redis-py's default would give up on a quiet
        # socket before the invoke's own timeout, and answer a 500 instead of the 504.
        _clients[loop] = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5,
                                                 socket_timeout=settings.STUDIO_INVOKE_TIMEOUT_S + 5)
    return _clients[loop]


# Each family's routing table as an invoke reads it: an endpoint's new weights apply within a second.
_routes: Recent[Table | None] = Recent(seconds=1.0)


async def _route(tool: str, request: HttpRequest) -> dict[str, Any]:
    """The variant this request goes to, from the family's routing table as read in the last
    second (no database query per request)."""
    family = INVOKERS[tool][0]
    variant = pick(await _routes.get(family, lambda: sync_to_async(table)(family)), user_of(request).pk)
    if variant is None:
        return {"version": None, "variant": "", "variant_id": None, "capture_rate": 0.0}
    return {"version": variant.version_id, "variant": variant.name, "variant_id": variant.pk,
            "capture_rate": variant.capture_rate}


async def _ask(tool: str, request: HttpRequest, payload: dict[str, Any]
               ) -> dict[str, Any] | Status[Any] | HttpResponse:
    """Count the request against the rate limit, route it, queue ``payload`` for the invoke server,
    and wait for its reply (or a 504)."""
    route = await _route(tool, request)
    request_id = uuid.uuid4().hex
    client = _client()
    try:
        if not await _limit.allow_async(request, client):
            return _too_many(math.ceil(_limit.wait() or 1))
        await client.rpush(queue_key(tool), json.dumps({"id": request_id, "version": route["version"],
                                                        **payload}))
        answer = await client.blpop([reply_key(request_id)], timeout=settings.STUDIO_INVOKE_TIMEOUT_S)
    except RedisError as exc:  # Redis restarting: say so, and when to try again
        return Status(503, {"detail": f"the invoke queue (Redis) is not reachable ({exc}); try again "
                                      "in a few seconds"})
    if answer is None:
        return Status(504, {"detail": f"no answer within {settings.STUDIO_INVOKE_TIMEOUT_S:g} s: is "
                                      "`manage.py serve_invoke` running?"})
    reply: dict[str, Any] = json.loads(answer[1])
    if "error" in reply:
        return Status(504, {"detail": f"the invoke server failed: {reply['error']}"})
    if sampled(route["capture_rate"]):
        await _capture(tool, route["variant_id"], payload, reply)
    return {**reply, "variant": route["variant"]}


async def _capture(tool: str, variant_id: int, payload: dict[str, Any], reply: dict[str, Any]) -> None:
    """Hand a sampled invoke to a worker to record (apps/catalog/capture.py): its parameters and
    answer, without the photo's or the picture's bytes. A broker that cannot take it costs the
    capture only."""
    inputs = {k: v for k, v in payload.items() if k != "photo"}
    outputs = {k: v for k, v in reply.items() if k != "png"}
    try:
        await sync_to_async(record_invoke.delay)(variant_id, tool, inputs, outputs)
    except Exception:  # noqa: BLE001 - kombu's errors vary with the broker
        log.warning("could not send the capture of a %s invoke", tool, exc_info=True)


def _too_many(wait: int) -> HttpResponse:
    """The 429 ninja's own throttles answer, with its Retry-After."""
    response = HttpResponse(json.dumps({"detail": "Too many requests."}), status=429,
                            content_type="application/json")
    response["Retry-After"] = str(wait)
    return response


def _png(reply: dict[str, Any] | Status[Any] | HttpResponse) -> HttpResponse | Status[Any]:
    if isinstance(reply, Status | HttpResponse):
        return reply
    response = HttpResponse(base64.b64decode(reply["png"]), content_type="image/png")
    response["X-Studio-Model"], response["X-Studio-Variant"] = reply["model"], reply["variant"]
    response["X-Studio-Batch"] = str(reply["batch"])
    return response


def _errors(form: Any) -> str:
    return " ".join(f"{name}: {' '.join(str(m) for m in messages)}" if name != "__all__" else
                    " ".join(str(m) for m in messages) for name, messages in form.errors.items())


_limit = RateThrottle(0)  # register() puts the API's own there


def register(api: Any) -> None:
    errors = {400: ErrorOut, 413: ErrorOut, 503: ErrorOut, 504: ErrorOut}
    # The API's rate limit, counted in _ask without blocking the event loop (throttle=[] below
    # keeps ninja from counting it again, synchronously).
    global _limit
    _limit = api.throttle

    auth = AsyncTokenAuth()  # the token remembered for a second: no database query per invoke

    @api.post("/tools/sentiment/invoke", throttle=[], response={200: InvokeOut, **errors}, auth=auth,
              summary="Score a text now (synchronous, dynamically batched)")
    async def invoke_sentiment(request: HttpRequest, body: InvokeIn) -> Any:
        if len(request.body) > INVOKE_MAX_BYTES:
            return Status(413, {"detail": f"the request is over {INVOKE_MAX_BYTES:,} bytes"})
        form = SentimentForm(data={"text": body.text})  # the same checks as the sentiment page
        if not form.is_valid():
            return Status(400, {"detail": " ".join(str(m) for m in form.errors["text"])})
        reply = await _ask("sentiment", request, {"text": body.text})
        return reply if isinstance(reply, Status | HttpResponse) else Status(200, reply)

    @api.post("/tools/dcgan/invoke", throttle=[], response={200: None, **errors}, auth=auth,
              openapi_extra={"responses": {200: PNG_RESPONSE}},
              summary=f"Generate up to {INVOKE_MAX_IMAGES} DCGAN images now, as one PNG grid")
    async def invoke_dcgan(request: HttpRequest, body: DCGANInvokeIn) -> Any:
        """The same images as a DCGAN grid job with this ``n`` and ``seed``."""
        seed = body.seed if body.seed is not None else random.randint(0, MAX_SEED)
        form = DCGANForm(data={"mode": "grid", "n": body.n, "seed": seed})
        if not form.is_valid():
            return Status(400, {"detail": _errors(form)})
        if body.n > INVOKE_MAX_IMAGES:
            return Status(400, {"detail": f"n: at most {INVOKE_MAX_IMAGES} images per invoke; "
                                          "submit a dcgan job for more"})
        response = _png(await _ask("dcgan", request, {"n": body.n, "seed": seed}))
        if isinstance(response, HttpResponse):
            response["X-Studio-Seed"] = str(seed)
        return response

    @api.post("/tools/fast-style/invoke", throttle=[], response={200: None, **errors}, auth=auth,
              openapi_extra={"responses": {200: PNG_RESPONSE}},
              summary=f"Repaint a photo now, up to {INVOKE_MAX_SIDE} px (multipart)")
    async def invoke_fast_style(request: HttpRequest, photo: File[UploadedFile], style: Form[str] = "",
                                blend: Form[str] = "", max_side: Form[int] = 256,
                                preserve_colors: Form[bool] = False) -> Any:
        """``style`` (one of the active network's styles) or ``blend`` (\"name=0.5, other=0.5\")."""
        if photo.size is not None and photo.size > INVOKE_MAX_PHOTO_BYTES:
            return Status(413, {"detail": f"the photo is over {INVOKE_MAX_PHOTO_BYTES:,} bytes"})
        if max_side > INVOKE_MAX_SIDE:
            return Status(400, {"detail": f"max_side: at most {INVOKE_MAX_SIDE} for an invoke; "
                                          "submit a fast-style job for larger"})
        data = {"style": style, "blend": blend, "max_side": max_side,
                "preserve_colors": "on" if preserve_colors else ""}
        form = await sync_to_async(FastStyleForm)(data, MultiValueDict({"photo": [photo]}))
        if not await sync_to_async(form.is_valid)():  # reads the active version's styles
            return Status(400, {"detail": _errors(form)})
        photo.seek(0)
        payload = {"photo": base64.b64encode(photo.read()).decode("ascii"),
                   "styles": form.cleaned_data["styles"], "max_side": max_side,
                   "preserve_colors": preserve_colors}
        return _png(await _ask("fast-style", request, payload))
