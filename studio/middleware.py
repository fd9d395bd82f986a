"""The studio's own middleware, each usable by a sync (WSGI, the test client) and an async (ASGI)
stack. One sync-only middleware makes Django run the whole chain of every request through a thread
hop, which cost the API most of its requests per second (issue 17); these two keep the chain async.

- StaticFilesMiddleware: WhiteNoise's static files (its own middleware is sync only).
- InlineSecurityMiddleware: Django's SecurityMiddleware (the HTTPS redirect and the security
  headers: pure computation) run in the event loop, for the invoke path's lean chain (studio/asgi.py).
- RequestSizeLimitMiddleware: refuse oversized requests with a clear page. Under ASGI,
  studio.body_limit answers first (before the body is read); this covers the other ways in. It sits
  after the authentication middleware (admins may upload checkpoints larger than pictures); nothing
  before it reads the body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat

from .upload_limits import API_TRAINING_PREFIX, limit_for, token_user


class _BothWays:
    """A middleware Django may call from a sync or an async chain (it picks by ``get_response``)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.answer_async(request)
        return (self.answer(request) if self.needs_answer(request) else None) or self.get_response(request)

    async def answer_async(self, request: HttpRequest) -> HttpResponse:
        response = await sync_to_async(self.answer)(request) if self.needs_answer(request) else None
        return response or await self.get_response(request)

    def needs_answer(self, request: HttpRequest) -> bool:
        """Whether ``answer`` may have something to say (it runs in a thread, so only then)."""
        raise NotImplementedError

    def answer(self, request: HttpRequest) -> HttpResponse | None:
        """The response instead of the view's, or None to go on (asked only when needs_answer)."""
        raise NotImplementedError


class StaticFilesMiddleware(_BothWays):
    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        from whitenoise.middleware import WhiteNoiseMiddleware

        super().__init__(get_response)
        self.whitenoise = WhiteNoiseMiddleware(get_response=_never)
        self.prefix = self.whitenoise.static_prefix

    def needs_answer(self, request: HttpRequest) -> bool:
        return request.path_info.startswith(self.prefix)

    def answer(self, request: HttpRequest) -> HttpResponse | None:
        wn = self.whitenoise
        static_file = wn.find_file(request.path_info) if wn.autorefresh else wn.files.get(request.path_info)
        return wn.serve(static_file, request) if static_file is not None else None


class InlineSecurityMiddleware:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        from django.middleware.security import SecurityMiddleware

        self.get_response = get_response
        self.security = SecurityMiddleware(get_response)
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        request.get_host()  # ALLOWED_HOSTS: CommonMiddleware checks it on the full chain
        response = self.security.process_request(request) or await self.get_response(request)
        return self.security.process_response(request, response)


class RequestSizeLimitMiddleware(_BothWays):
    def needs_answer(self, request: HttpRequest) -> bool:
        # Only a request over the base limit can be refused, and only then does who asks matter:
        # every other request passes without a look at the user (no database).
        return _length(request) > settings.STUDIO_MAX_REQUEST_BYTES

    def answer(self, request: HttpRequest) -> HttpResponse | None:
        user = getattr(request, "user", None)  # the invoke path's lean chain has no session user
        if user is None or request.path.startswith(API_TRAINING_PREFIX):  # the API: a token says who
            user = token_user(request.headers.get("Authorization", ""))
        limit = limit_for(request.path, user)
        length = _length(request)
        if length > limit:
            message = too_large_message(length, limit)
            return render(request, "error.html", {"title": "Upload too large", "message": message},
                          status=413)
        return None


def _length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _never(request: HttpRequest) -> HttpResponse:
    raise AssertionError("StaticFilesMiddleware calls WhiteNoise's lookup, never its get_response")


def too_large_message(length: int | None, limit: int) -> str:
    size = f"is {filesizeformat(length)}" if length is not None else "is larger than that"
    return (f"The upload {size}; the studio accepts at most {filesizeformat(limit)} per request "
            f"({filesizeformat(settings.STUDIO_MAX_UPLOAD_BYTES)} per file).")
