"""Refuse oversized requests before Django reads (and spools) their bodies."""

from __future__ import annotations

from typing import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.STUDIO_MAX_REQUEST_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            message = (f"The upload is {filesizeformat(length)}; the studio accepts at most "
                       f"{filesizeformat(limit)} per request "
                       f"({filesizeformat(settings.STUDIO_MAX_UPLOAD_BYTES)} per file).")
            return render(request, "error.html", {"title": "Upload too large", "message": message},
                          status=413)
        return self.get_response(request)
