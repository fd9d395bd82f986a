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


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


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
    # Signs this token's webhooks (X-Studio-Signature); not a credential, so it is kept and shown.
    webhook_secret = models.CharField(max_length=64, default=new_webhook_secret)

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

    @classmethod
    def find(cls, token: str) -> ApiToken | None:
        """The live token row (not revoked, its user active) for ``token`` as a client sent it."""
        live = cls.objects.select_related("user").filter(revoked_at__isnull=True, user__is_active=True)
        return live.filter(key_hash=digest(token.strip())).first()

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class Webhook(models.Model):
    """Where to tell the API client that its job ended (apps/api/webhooks.py delivers)."""

    job = models.OneToOneField("jobs.Job", on_delete=models.CASCADE, related_name="webhook")
    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, help_text="Its webhook secret signs.")
    url = models.URLField(max_length=500)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
