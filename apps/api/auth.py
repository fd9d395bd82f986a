"""``Authorization: Bearer st_...``: the API's only way in (no session cookies, so no CSRF to
forge). A missing, unknown or revoked token is a 401.

The synchronous invokes (apps/api/invoke.py) use ``AsyncTokenAuth``: the same check, remembered in
the process for a second (apps/api/recent.py) so that a busy client costs no database query per request (a
revoked token stops working within that second)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from .models import ApiToken
from .recent import Recent

TOKEN_ATTR = "api_token"  # where authenticate() leaves the token row on the request
LAST_USED_RESOLUTION_S = 60  # last_used_at is written at most once a minute per token


# How long AsyncTokenAuth trusts what it found (a revoked token: at most this); unknown tokens are
# remembered too, so a flood of bad ones costs one query a second each.
_tokens: Recent[ApiToken | None] = Recent(seconds=1.0)


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        return _accept(request, _look_up(token))


class AsyncTokenAuth(TokenAuth):
    """TokenAuth for async views, from what it found in the last second (``_tokens``)."""

    is_async = True  # ninja awaits it

    async def authenticate(self, request: HttpRequest, token: str) -> User | None:  # type: ignore[override]
        return _accept(request, await _tokens.get(token, lambda: sync_to_async(_look_up)(token)))


def _accept(request: HttpRequest, row: ApiToken | None) -> User | None:
    """The token's owner, put on the request with the token row; None for no live token."""
    if row is None:
        return None
    request.user = row.user
    setattr(request, TOKEN_ATTR, row)  # noqa: B010  (webhooks are signed with its secret)
    return row.user


def _look_up(token: str) -> ApiToken | None:
    """The live token row, its last use noted (at most once a minute: a write per request would
    make every API call a database write)."""
    row = ApiToken.find(token)
    if row is None:
        return None
    now = timezone.now()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > LAST_USED_RESOLUTION_S:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


def user_of(request: Any) -> User:
    """The authenticated user of an API request (TokenAuth put it there)."""
    user: User = request.auth
    return user


def token_of(request: Any) -> ApiToken:
    """The token an API request came with (TokenAuth put it there)."""
    row: ApiToken = getattr(request, TOKEN_ATTR)
    return row
