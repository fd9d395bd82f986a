"""What the API sends: jobs, their files, tools and their parameters, errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django import forms
from django.urls import reverse
from ninja import Schema

from apps.jobs.models import Job
from apps.tools.base import Tool


class ErrorOut(Schema):
    detail: str


class RatingIn(Schema):
    rating: Literal["up", "down", "none"]  # none takes a rating back


class FormErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]]


class FileOut(Schema):
    id: int
    role: str  # input, result or preview
    field: str
    name: str
    content_type: str
    size: int
    url: str  # the API download URL


class JobOut(Schema):
    id: str
    tool: str
    state: str
    step: int
    total: int
    message: str
    error: str
    params: dict[str, Any]
    result: dict[str, Any]
    model_version: str
    seed: int | None
    last_seq: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rating: Literal["up", "down"] | None  # the owner's verdict on a succeeded job's result
    url: str  # the job's page in the browser
    events_url: str  # its Server-Sent Events stream
    files: list[FileOut] | None


class JobListOut(Schema):
    count: int
    jobs: list[JobOut]


class ParamOut(Schema):
    name: str
    type: str  # text, integer, number, boolean, choice, file
    required: bool
    initial: Any
    help: str
    choices: list[str] | None


class ToolOut(Schema):
    slug: str
    title: str
    description: str
    queue: str
    trains: bool
    params: list[ParamOut]


def job_out(job: Job, *, files: bool = True) -> dict[str, Any]:
    return {
        "id": str(job.pk), "tool": job.kind, "state": job.state, "step": job.step, "total": job.total,
        "message": job.message, "error": job.error, "params": job.params, "result": job.result,
        "model_version": job.model_version, "seed": job.seed, "last_seq": job.last_seq,
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
        "rating": {1: "up", -1: "down"}.get(job.rating or 0),
        "url": reverse("job-detail", args=[job.pk]),
        "events_url": reverse("api:stream_events", args=[job.pk]),
        "files": [{"id": f.pk, "role": f.role, "field": f.field, "name": f.name,
                   "content_type": f.content_type, "size": f.size,
                   "url": reverse("api:download", args=[job.pk, f.pk])}
                  for f in job.files.order_by("pk")] if files else None,
    }


def _param(name: str, field: forms.Field) -> dict[str, Any]:
    if isinstance(field, forms.FileField):
        kind = "file"
    elif isinstance(field, forms.BooleanField):
        kind = "boolean"
    elif isinstance(field, forms.ChoiceField):
        kind = "choice"
    elif isinstance(field, forms.IntegerField):
        kind = "integer"
    elif isinstance(field, forms.FloatField):
        kind = "number"
    else:
        kind = "text"
    options: Any = getattr(field, "choices", None)
    choices = [str(value) for value, _ in options] if kind == "choice" and options else None
    initial = field.initial if isinstance(field.initial, (str, int, float, bool, type(None))) else None
    return {"name": name, "type": kind, "required": field.required, "initial": initial,
            "help": str(field.help_text or field.label or ""), "choices": choices}


def tool_out(tool: Tool) -> dict[str, Any]:
    return {"slug": tool.slug, "title": tool.title, "description": tool.description, "queue": tool.queue,
            "trains": tool.trains,
            "params": [_param(name, field) for name, field in tool.form_class.base_fields.items()]}
