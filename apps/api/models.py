"""API tokens: a user makes as many as they like (one per script or machine), each revocable.

Only a token's sha256 is stored; the token itself is shown once, when it is made. A token reads as
``st_`` + 43 URL-safe characters (256 random bits); its first 11 characters are kept to tell tokens
apart in the account page.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

PREFIX = "st_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What it is for, e.g. 'nightly batch script'.")
    key_hash = models.CharField(max_length=64, unique=True)
    shown = models.CharField(max_length=16, help_text="The token's first characters, to recognise it.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.shown}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(cls, user: models.Model, name: str) -> tuple[ApiToken, str]:
        """A new token for ``user``: the row, and the token itself (never stored, shown once)."""
        token = PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(user=user, name=name, key_hash=digest(token), shown=token[:11])
        return row, token

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
