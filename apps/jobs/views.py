"""Job pages: submit a tool, watch a job, cancel it, download its files, see history."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.catalog import examples
from apps.catalog.examples import CardExample
from apps.tools.base import Tool
from apps.tools.registry import all_tools, get_tool

from . import services
from .events import REPLAY_LIMIT
from .events import after as events_after
from .models import Job, JobFile


class AuthenticatedRequest(HttpRequest):
    """The request a @login_required view sees: its user is a real User, never AnonymousUser."""

    user: User


def _own_job(request: AuthenticatedRequest, job_id: str) -> Job:
    # Another user's job is a 404, not a 403: its existence is not theirs to learn.
    return get_object_or_404(Job, pk=job_id, owner=request.user)


@dataclass(frozen=True)
class ToolCard:
    tool: Tool
    example: CardExample | None  # what the tool makes, from its family's active version


def tool_cards(tools: list[Tool]) -> list[ToolCard]:
    """Each tool with the first example its ``example_families`` have (one lookup for all)."""
    shown = examples.for_families({family for tool in tools for family in tool.example_families()})
    return [ToolCard(tool, next((shown[f] for f in tool.example_families() if f in shown), None))
            for tool in tools]


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    recent = Job.objects.filter(owner=request.user)[:5]
    cards = tool_cards(all_tools())
    return render(request, "jobs/home.html", {"tools": [c for c in cards if not c.tool.trains],
                                              "trainers": [c for c in cards if c.tool.trains],
                                              "recent": recent})


@login_required
def submit(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    tool = get_tool(slug)
    if tool is None:
        raise Http404("No such tool")
    # Bound on every POST, even an empty one: an unbound form would give a 400 with no message.
    form = tool.form_class(request.POST, request.FILES) if request.method == "POST" else tool.form_class()
    retry_after = None
    if request.method == "POST" and form.is_valid():
        files = {name: form.cleaned_data[name] for name in tool.file_fields() if form.cleaned_data.get(name)}
        try:
            job = services.submit(request.user, tool, tool.params(form.cleaned_data), files)
        except services.TooManyJobs as exc:
            form.add_error(None, str(exc))
            retry_after = exc.retry_after
        else:
            return redirect("job-detail", job.pk)
    status = 429 if retry_after else 400 if request.method == "POST" else 200
    context = {"tool": tool, "form": form, **tool.submit_context()}
    response = render(request, tool.submit_template, context, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@login_required
def detail(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    job = _own_job(request, job_id)
    tool = get_tool(job.kind)
    context = {
        "job": job,
        "tool": tool,
        "inputs": job.files.filter(role=JobFile.Role.INPUT),
        "results": job.files.filter(role=JobFile.Role.RESULT),
        "events": job.events.all(),
        "can_resume": services.can_resume(job),
    }
    return render(request, "jobs/detail.html", context)


@login_required
def events(request: AuthenticatedRequest, job_id: str) -> JsonResponse:
    """The JSON poll: the same events the WebSocket sends, after a given sequence number."""
    job = _own_job(request, job_id)
    items = events_after(job.pk, _after(request), limit=REPLAY_LIMIT)
    return JsonResponse({"job": job.snapshot(), "events": items})


def _after(request: HttpRequest) -> int:
    # A hand-edited or garbled ?after= replays everything rather than failing with a 500.
    try:
        return max(0, int(request.GET.get("after") or 0))
    except ValueError:
        return 0


@login_required
@require_POST
def cancel(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    job = _own_job(request, job_id)
    services.request_cancel(job)
    if request.headers.get("accept", "").startswith("application/json"):
        return JsonResponse({"job": job.snapshot()})
    return redirect("job-detail", job.pk)


@login_required
@require_POST
def rate(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    """Thumbs up or down on a succeeded job's result (``rating``: up, down or none)."""
    job = _own_job(request, job_id)
    rating = request.POST.get("rating", "")
    if rating not in services.RATINGS:
        return HttpResponse("rating must be up, down or none", status=400, content_type="text/plain")
    try:
        services.rate(job, rating)
    except services.NotRateable as exc:
        messages.error(request, str(exc))
    return redirect("job-detail", job.pk)


@login_required
@require_POST
def rerun(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    """Run again with these settings: same tool, parameters, seed and input files."""
    job = _own_job(request, job_id)
    tool = get_tool(job.kind)
    if tool is None:
        raise Http404("This tool is no longer available")
    return redirect("job-detail", services.rerun(job, tool).pk)


@login_required
@require_POST
def resume(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    """Continue a cancelled or failed training from its last checkpoint, as a new job."""
    job = _own_job(request, job_id)
    tool = get_tool(job.kind)
    if tool is None or not services.can_resume(job):
        raise Http404("This job has no training checkpoint to resume from")
    return redirect("job-detail", services.resume(job, tool).pk)


@login_required
@require_POST
def retry_failed(request: AuthenticatedRequest, job_id: str) -> HttpResponse:
    """A batch with failed items (images, CSV rows), again with a file of replacements: a new job
    that keeps the earlier results and runs only what failed. The upload goes through the tool's own
    form with the earlier job's settings; a cancelled batch that kept partial results counts too."""
    job = _own_job(request, job_id)
    try:
        retry = services.retry_failed(job, request.FILES)
    except services.NothingToRetry as exc:
        raise Http404(str(exc)) from exc
    except (services.RetryRejected, services.TooManyJobs) as exc:
        messages.error(request, str(exc))
        return redirect("job-detail", job.pk)
    return redirect("job-detail", retry.pk)


@login_required
def job_file(request: AuthenticatedRequest, job_id: str, file_id: int) -> FileResponse:
    job = _own_job(request, job_id)
    job_file = get_object_or_404(JobFile, pk=file_id, job=job)
    download = request.GET.get("download") == "1"
    return FileResponse(job_file.file.open("rb"), as_attachment=download,
                        filename=job_file.name, content_type=job_file.content_type)


@login_required
def history(request: AuthenticatedRequest) -> HttpResponse:
    jobs = Job.objects.filter(owner=request.user)
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    return render(request, "jobs/history.html", {"page": page})
