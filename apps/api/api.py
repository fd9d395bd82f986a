"""The studio's REST API (django-ninja): everything the job pages do, for programs.

Served at /api/; the OpenAPI schema is /api/openapi.json and the interactive docs /api/docs. Every
operation needs ``Authorization: Bearer <token>`` (tokens are made in the account page). A job of
another user is a 404, as in the browser.

Submitting reuses each tool's form: the same parameters, defaults, limits and file checks as the
submit page, so a bad upload gets the same message here as there.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from ninja import Form, NinjaAPI, Query, Status
from ninja.errors import HttpError

from apps.jobs import events, services
from apps.jobs.models import TERMINAL_STATES, Job, JobFile
from apps.tools.base import Tool
from apps.tools.registry import all_tools, get_tool
from studio.version import VERSION

from . import invoke, webhooks
from .auth import TokenAuth, token_of, user_of
from .models import Webhook
from .schemas import ErrorOut, FormErrorOut, JobListOut, JobOut, RatingIn, ToolOut, job_out, tool_out
from .throttle import RateThrottle

api = NinjaAPI(title="GAN & style studio", version=VERSION, auth=TokenAuth(), urls_namespace="api",
               # Per user (the token's owner), counted in the cache (Redis): 429 with Retry-After.
               throttle=RateThrottle(settings.STUDIO_API_REQUESTS_PER_MINUTE),
               description="Submit jobs to the studio's tools, follow them and fetch their results. "
                           "Authenticate with `Authorization: Bearer <token>` (make one on your account "
                           "page).")

SSE_POLL_S = 0.25  # how often the event stream looks for new events
SSE_KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing a quiet stream
SSE_MAX_S = 3600.0  # a stream ends after this long; the client reconnects with Last-Event-ID


invoke.register(api)


def urls() -> tuple[list[Any], str, str]:
    """The API's URL patterns, exempt from the site's login redirect: API clients authenticate with
    their token on every request (a missing one is a 401 here, not a redirect to a login page)."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        view: Any = pattern.callback
        view.login_required = False  # what django's @login_not_required sets
    return patterns, app_name, namespace


def _own_job(request: HttpRequest, job_id: str) -> Job:
    return get_object_or_404(Job, pk=job_id, owner=user_of(request))


def _tool(slug: str) -> Tool:
    tool = get_tool(slug)
    if tool is None:
        raise HttpError(404, f"No tool {slug!r}; GET /api/tools lists them.")
    return tool


@api.get("/tools", response=list[ToolOut], summary="The tools and their parameters")
def list_tools(request: HttpRequest) -> list[dict[str, Any]]:
    return [tool_out(t) for t in all_tools()]


@api.post("/tools/{slug}/jobs", response={201: JobOut, 400: FormErrorOut, 404: ErrorOut, 429: ErrorOut},
          summary="Submit a job (multipart: the tool's files, and its parameters as JSON)")
def submit(request: HttpRequest, slug: str, params: Form[str] = "{}",
           webhook: Form[str] = "") -> Status[dict[str, Any]] | HttpResponse:
    """``params`` is a JSON object of the tool's parameters (GET /api/tools names them); files go
    in the multipart body under the tool's file field names. ``webhook``: a URL that gets a signed
    POST when the job ends (see apps/api/webhooks.py)."""
    tool = _tool(slug)
    if webhook:
        try:
            URLValidator(schemes=["http", "https"])(webhook)
            webhooks.check_address(webhook, resolve=False)
        except ValidationError:
            return Status(400, {"detail": "webhook must be an http(s) URL",
                                "errors": {"webhook": ["Enter a valid URL."]}})
        except webhooks.RefusedAddress as exc:
            return Status(400, {"detail": str(exc), "errors": {"webhook": [str(exc)]}})
    try:
        data = json.loads(params or "{}")
    except json.JSONDecodeError as exc:
        return Status(400, {"detail": f"params is not JSON: {exc}", "errors": {}})
    if not isinstance(data, dict):
        return Status(400, {"detail": "params must be a JSON object", "errors": {}})
    form = tool.form_class({k: _form_value(v) for k, v in data.items()}, request.FILES)
    if not form.is_valid():
        errors = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
        return Status(400, {"detail": "Invalid parameters or files.", "errors": errors})
    files = {name: form.cleaned_data[name] for name in tool.file_fields() if form.cleaned_data.get(name)}
    try:
        with transaction.atomic():  # the webhook is stored before the job can be enqueued (on commit)
            job = services.submit(user_of(request), tool, tool.params(form.cleaned_data), files)
            if webhook:
                Webhook.objects.create(job=job, token=token_of(request), url=webhook)
    except services.TooManyJobs as exc:
        return _too_many(request, exc)
    return Status(201, job_out(job))


def _too_many(request: HttpRequest, exc: services.TooManyJobs) -> HttpResponse:
    response = api.create_response(request, {"detail": str(exc)}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.get("/jobs", response=JobListOut, summary="Your jobs, newest first")
def list_jobs(request: HttpRequest, state: str = "", tool: str = "", limit: Query[int] = 50,
              offset: Query[int] = 0) -> dict[str, Any]:
    jobs = Job.objects.filter(owner=user_of(request))
    if state:
        jobs = jobs.filter(state=state)
    if tool:
        jobs = jobs.filter(kind=tool)
    limit = max(1, min(limit, 200))
    page = list(jobs.order_by("-created_at")[max(offset, 0):max(offset, 0) + limit])
    return {"count": jobs.count(), "jobs": [job_out(j, files=False) for j in page]}


@api.get("/jobs/{job_id}", response={200: JobOut, 404: ErrorOut}, summary="One job: state, result, files")
def get_job(request: HttpRequest, job_id: str) -> dict[str, Any]:
    return job_out(_own_job(request, job_id))


@api.post("/jobs/{job_id}/cancel", response={200: JobOut, 404: ErrorOut}, summary="Cancel a job")
def cancel(request: HttpRequest, job_id: str) -> dict[str, Any]:
    """A queued job ends at once; a running one stops at its next progress check."""
    job = _own_job(request, job_id)
    services.request_cancel(job)
    job.refresh_from_db()
    return job_out(job)


@api.post("/jobs/{job_id}/rating", response={200: JobOut, 400: ErrorOut, 404: ErrorOut},
          summary="Rate a succeeded job's result: thumbs up, down, or none")
def rate(request: HttpRequest, job_id: str, body: RatingIn) -> Status[dict[str, Any]]:
    job = _own_job(request, job_id)
    try:
        services.rate(job, body.rating)
    except services.NotRateable as exc:
        return Status(400, {"detail": str(exc)})
    return Status(200, job_out(job))


@api.post("/jobs/{job_id}/rerun", response={201: JobOut, 404: ErrorOut, 429: ErrorOut},
          summary="Run a job again: same tool, parameters, seed and input files")
def rerun(request: HttpRequest, job_id: str) -> Status[dict[str, Any]] | HttpResponse:
    job = _own_job(request, job_id)
    tool = _tool(job.kind)
    try:
        return Status(201, job_out(services.rerun(job, tool)))
    except services.TooManyJobs as exc:
        return _too_many(request, exc)


@api.post("/jobs/{job_id}/resume", response={201: JobOut, 404: ErrorOut, 429: ErrorOut},
          summary="Continue a cancelled or failed training from its last checkpoint, as a new job")
def resume(request: HttpRequest, job_id: str) -> Status[dict[str, Any]] | HttpResponse:
    job = _own_job(request, job_id)
    tool = _tool(job.kind)
    if not services.can_resume(job):
        raise HttpError(404, "This job has no training checkpoint to resume from.")
    try:
        return Status(201, job_out(services.resume(job, tool)))
    except services.TooManyJobs as exc:
        return _too_many(request, exc)


@api.post("/jobs/{job_id}/retry", response={201: JobOut, 400: FormErrorOut, 404: ErrorOut, 429: ErrorOut},
          summary="Retry a batch's failed items with replacements (multipart)")
def retry(request: HttpRequest, job_id: str) -> Status[dict[str, Any]] | HttpResponse:
    """The replacements go in the multipart body under the batch tool's file field (``images``: a
    zip of images with the same names; ``csv``: the corrected CSV). The new job keeps the earlier
    results and runs only what failed."""
    job = _own_job(request, job_id)
    try:
        again = services.retry_failed(job, request.FILES)
    except services.NothingToRetry as exc:
        raise HttpError(404, str(exc)) from exc
    except services.RetryRejected as exc:
        return Status(400, {"detail": "Invalid replacements.", "errors": exc.errors})
    except services.TooManyJobs as exc:
        return _too_many(request, exc)
    return Status(201, job_out(again))


@api.get("/jobs/{job_id}/files/{file_id}", response={200: None, 404: ErrorOut},
         summary="Download one of a job's files (inputs, results, previews)")
def download(request: HttpRequest, job_id: str, file_id: int) -> FileResponse:
    job_file = get_object_or_404(JobFile, pk=file_id, job=_own_job(request, job_id))
    return FileResponse(job_file.file.open("rb"), as_attachment=True, filename=job_file.name,
                        content_type=job_file.content_type)


@api.get("/jobs/{job_id}/events", response={200: None, 404: ErrorOut},
         summary="The job's events as Server-Sent Events, from a sequence number on")
def stream_events(request: HttpRequest, job_id: str, after: Query[int] = 0) -> StreamingHttpResponse:
    """Each event is ``id: <seq>``, ``event: <kind>`` and ``data: <JSON>``. Events already stored are
    sent first, then new ones as they happen; the stream ends after the job's last event. A client
    that reconnects sends ``Last-Event-ID`` (or ``?after=``) and gets only what it missed."""
    job = _own_job(request, job_id)
    last = request.headers.get("Last-Event-ID", "")
    start = int(last) if last.isdigit() else max(after, 0)
    response = StreamingHttpResponse(_sse(job.pk, start), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


async def _sse(job_id: Any, after: int) -> AsyncIterator[str]:
    """An async iterator: under ASGI, Django streams it as it goes (a sync one would be read to its
    end before the first byte left). The database is read in a thread, a batch at a time."""
    started = quiet_since = time.monotonic()
    while time.monotonic() - started < SSE_MAX_S:
        batch = await sync_to_async(events.after)(job_id, after, events.REPLAY_LIMIT)
        for event in batch:
            after = event["seq"]
            yield f"id: {event['seq']}\nevent: {event['kind']}\ndata: {json.dumps(event)}\n\n"
        if batch:
            quiet_since = time.monotonic()
            continue
        state, last_seq = await sync_to_async(_state)(job_id)
        if state in TERMINAL_STATES and after >= last_seq:
            return
        if time.monotonic() - quiet_since > SSE_KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(SSE_POLL_S)


def _state(job_id: Any) -> tuple[str, int]:
    state, last_seq = Job.objects.filter(pk=job_id).values_list("state", "last_seq").get()
    return state, last_seq


def _form_value(value: Any) -> Any:
    """JSON values as a form would post them: booleans as "on"/"" (a checkbox), lists kept."""
    if value is True:
        return "on"
    if value is False or value is None:
        return ""
    return value

