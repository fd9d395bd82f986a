"""How large a request may be: the studio's upload limit, except for admins uploading checkpoints
and signed-in users uploading training sets.

A checkpoint can be far larger than any picture (a CycleGAN generator is 45 MB, VGG19 550 MB), so
the catalog's add/change pages take up to STUDIO_MAX_CHECKPOINT_BYTES, but only from a signed-in
user allowed to add or change model versions: nobody else gets to make the server spool gigabytes.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.http import parse_cookie

CATALOG_UPLOAD_PATH = "/admin/catalog/modelversion/"
TRAINING_PATH_PREFIX = "/tools/train-"  # the training tools' submit pages (apps/tools/train_*.py)
API_TRAINING_PREFIX = "/api/tools/train-"  # the same tools through the API (a token says who)
TRAINING_ZIPS = 2  # the most zips a training form takes (CycleGAN: domains A and B)
FORM_ALLOWANCE = 1024 * 1024  # the rest of the admin form around the file


def may_upload_checkpoints(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff and (
        user.has_perm("catalog.add_modelversion") or user.has_perm("catalog.change_modelversion")))


def limit_for(path: str, user: Any) -> int:
    """Bytes a request to ``path`` by ``user`` may carry."""
    if path.startswith(CATALOG_UPLOAD_PATH) and may_upload_checkpoints(user):
        return settings.STUDIO_MAX_CHECKPOINT_BYTES + FORM_ALLOWANCE
    training_path = path.startswith((TRAINING_PATH_PREFIX, API_TRAINING_PREFIX))
    if training_path and user.is_authenticated and user.is_active:
        training = TRAINING_ZIPS * settings.STUDIO_MAX_TRAINING_UPLOAD_BYTES + FORM_ALLOWANCE
        return max(int(training), int(settings.STUDIO_MAX_REQUEST_BYTES))
    return settings.STUDIO_MAX_REQUEST_BYTES


async def asgi_limit(scope: dict[str, Any]) -> int:
    """limit_for, before Django runs: the user comes from the session cookie, read only for the
    catalog's and the training tools' pages (every other request is judged without touching the
    database)."""
    path = scope.get("path", "")
    if not path.startswith((CATALOG_UPLOAD_PATH, TRAINING_PATH_PREFIX, API_TRAINING_PREFIX)):
        return int(settings.STUDIO_MAX_REQUEST_BYTES)
    if path.startswith(API_TRAINING_PREFIX):
        headers = dict(scope.get("headers", []))
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        return await sync_to_async(lambda: limit_for(path, token_user(authorization)))()
    return await sync_to_async(_limit_from_cookie)(scope)


def token_user(authorization: str) -> Any:
    """The user an API request's ``Authorization: Bearer <token>`` belongs to (AnonymousUser for a
    missing, unknown or revoked token): the API's size limits depend on who asks, as the pages' do."""
    from django.contrib.auth.models import AnonymousUser

    from apps.api.models import ApiToken

    scheme, _, token = authorization.partition(" ")
    row = ApiToken.find(token) if scheme.lower() == "bearer" and token else None
    return row.user if row is not None else AnonymousUser()


def _limit_from_cookie(scope: dict[str, Any]) -> int:
    from importlib import import_module

    cookies: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookies.update(parse_cookie(value.decode("latin-1")))
    store = import_module(settings.SESSION_ENGINE).SessionStore
    # get_user checks the session's auth hash too, exactly as the request itself will be checked.
    user = get_user(SimpleNamespace(session=store(cookies.get(settings.SESSION_COOKIE_NAME))))  # type: ignore[arg-type]
    return limit_for(scope["path"], user)
