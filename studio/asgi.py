"""ASGI entry point: HTTP goes to Django; WebSockets need a logged-in session and an allowed Origin.

The synchronous invokes (``POST /api/tools/<tool>/invoke``) go to a second Django handler that runs
the same URLs and views with only the middleware an API call needs, none of it in a thread: Django
runs each ``process_request`` and ``process_response`` of its own middleware in a thread under
ASGI, and on the invoke path (token auth, no session, no cookies, no pages) those hops were most of
a request's cost (issue 17). Every other request takes the full chain of settings.MIDDLEWARE.
That handler also skips Django's other per-request thread hops (see InvokeHandler.handle).
"""

import os
import re
from contextvars import ContextVar
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
django_asgi_app = get_asgi_application()

from asgiref.sync import sync_to_async  # noqa: E402  (these need Django set up first)
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.core.exceptions import RequestAborted  # noqa: E402
from django.core.handlers.asgi import ASGIHandler, get_script_prefix  # noqa: E402
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from django.urls import set_script_prefix  # noqa: E402

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

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Django's ``ASGIHandler.handle`` less three costs an invoke does not need.

        - ``request_started``: its receivers reset the query log and close stale database
          connections, and an invoke starts in a fresh context that holds none; Django sends it
          with ``asend``, a thread hop for those sync receivers.
        - A second task listening for the client's disconnect, to cancel the view: an invoke's
          reply is at most STUDIO_INVOKE_TIMEOUT_S away and its work is already queued.
        - ``response.close()`` in a thread: it fires ``request_finished``, whose receivers close
          database connections (in the thread that opened them), the caches and the URLconf. An
          invoke opens a connection only when its token or routing table is not in memory
          (apps/api/recent.py) or its form reads the catalog; otherwise closing in the event loop
          is safe and far cheaper.
        """
        opened: list[str] = []  # filled by _note_connection from the request's threads
        _opened.set(opened)
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, response = self.create_request(scope, body_file)  # one or the other
        if request is not None:
            response = await self.run_get_response(request)
        assert response is not None
        try:
            await self.send_response(response, send)
        finally:
            body_file.close()
            if opened:  # Django's way: thread_sensitive, so it runs in the thread that opened it
                await sync_to_async(response.close)()
            else:
                response.close()


# The database connections an invoke opened. sync_to_async runs the view's queries with a copy of
# the request's context, so the list set in handle() is the one the signal appends to.
_opened: ContextVar[list[str] | None] = ContextVar("invoke_opened_connections", default=None)


def _note_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    opened = _opened.get()
    if opened is not None:
        opened.append(connection.alias)


connection_created.connect(_note_connection)


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
