"""ASGI entry point: HTTP goes to Django; WebSockets need a logged-in session and an allowed Origin.

The synchronous invokes (``POST /api/tools/<tool>/invoke``) go to a second Django handler that runs
the same URLs and views with only the middleware an API call needs, none of it in a thread: Django
runs each ``process_request`` and ``process_response`` of its own middleware in a thread under
ASGI, and on the invoke path (token auth, no session, no cookies, no pages) those hops were most of
a request's cost (issue 17). Every other request takes the full chain of settings.MIDDLEWARE.
"""

import os
import re
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402

from apps.jobs.routing import websocket_urlpatterns  # noqa: E402

from .body_limit import BodySizeLimit  # noqa: E402
from .middleware import InlineSecurityMiddleware, RequestSizeLimitMiddleware  # noqa: E402
from .upload_limits import asgi_limit  # noqa: E402

INVOKE_PATH = re.compile(r"/api/tools/[\w-]+/invoke/?")
INVOKE_MIDDLEWARE = (InlineSecurityMiddleware, RequestSizeLimitMiddleware)  # outermost first


class InvokeHandler(ASGIHandler):
    """Django's ASGI handler with INVOKE_MIDDLEWARE instead of settings.MIDDLEWARE."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        chain = convert_exception_to_response(self._get_response_async)  # type: ignore[attr-defined]
        for middleware in reversed(INVOKE_MIDDLEWARE):
            chain = convert_exception_to_response(middleware(chain))
        self._middleware_chain = chain


invoke_app = InvokeHandler()


async def http_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    lean = scope.get("method") == "POST" and INVOKE_PATH.fullmatch(scope.get("path", ""))
    await (invoke_app if lean else django_asgi_app)(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(http_app, asgi_limit),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
