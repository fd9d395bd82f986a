"""The first user: created from STUDIO_ADMIN_USER / STUDIO_ADMIN_PASSWORD when both are set."""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model


def ensure_admin(environ: os._Environ[str] | dict[str, str] = os.environ) -> str:
    """Create the superuser named in the environment unless it exists. Returns what happened,
    for the launcher to print."""
    User = get_user_model()
    username = environ.get("STUDIO_ADMIN_USER", "").strip()
    password = environ.get("STUDIO_ADMIN_PASSWORD", "")
    if username and password:
        if User.objects.filter(username=username).exists():
            return f"Admin user {username!r} already exists."
        User.objects.create_superuser(username=username, password=password,
                                      email=environ.get("STUDIO_ADMIN_EMAIL", ""))
        return f"Created admin user {username!r} (from STUDIO_ADMIN_USER / STUDIO_ADMIN_PASSWORD)."
    if User.objects.filter(is_superuser=True).exists():
        return ""
    return ("No admin yet. Sign up in the browser, or create an admin with\n"
            "  .venv/bin/python manage.py createsuperuser\n"
            "or set STUDIO_ADMIN_USER and STUDIO_ADMIN_PASSWORD before starting.")
