"""Refuse oversized requests with a clear page. Under ASGI, studio.body_limit answers first (before
the body is read); this middleware covers the other ways in (WSGI, the test client). It sits after
the authentication middleware (admins may upload checkpoints larger than pictures); nothing before
it reads the body."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat

from .upload_limits import API_TRAINING_PREFIX, limit_for, token_user


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if request.path.startswith(API_TRAINING_PREFIX):  # the API says who it is with a token
            user = token_user(request.headers.get("Authorization", ""))
        limit = limit_for(request.path, user)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            message = too_large_message(length, limit)
            return render(request, "error.html", {"title": "Upload too large", "message": message},
                          status=413)
        return self.get_response(request)


def too_large_message(length: int | None, limit: int) -> str:
    size = f"is {filesizeformat(length)}" if length is not None else "is larger than that"
    return (f"The upload {size}; the studio accepts at most {filesizeformat(limit)} per request "
            f"({filesizeformat(settings.STUDIO_MAX_UPLOAD_BYTES)} per file).")
