"""``Authorization: Bearer st_...``: the API's only way in (no session cookies, so no CSRF to
forge). A missing, unknown or revoked token is a 401."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from .models import ApiToken

TOKEN_ATTR = "api_token"  # where authenticate() leaves the token row on the request
LAST_USED_RESOLUTION_S = 60  # last_used_at is written at most once a minute per token


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        row = ApiToken.find(token)
        if row is None:
            return None
        now = timezone.now()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > LAST_USED_RESOLUTION_S:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.user
        setattr(request, TOKEN_ATTR, row)  # noqa: B010  (webhooks are signed with its secret)
        return row.user


def user_of(request: Any) -> User:
    """The authenticated user of an API request (TokenAuth put it there)."""
    user: User = request.auth
    return user


def token_of(request: Any) -> ApiToken:
    """The token an API request came with (TokenAuth put it there)."""
    row: ApiToken = getattr(request, TOKEN_ATTR)
    return row
