"""The first user from STUDIO_ADMIN_USER / STUDIO_ADMIN_PASSWORD, or a hint how to make one."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.embedded.admin_user import ensure_admin

pytestmark = pytest.mark.django_db


def test_it_creates_the_admin_named_in_the_environment() -> None:
    note = ensure_admin({"STUDIO_ADMIN_USER": "boss", "STUDIO_ADMIN_PASSWORD": "s3cret-enough"})
    user = get_user_model().objects.get(username="boss")
    assert user.is_superuser and user.is_staff and user.check_password("s3cret-enough")
    assert "Created admin user 'boss'" in note


def test_it_leaves_an_existing_admin_alone() -> None:
    get_user_model().objects.create_superuser("boss", password="original-pass")
    note = ensure_admin({"STUDIO_ADMIN_USER": "boss", "STUDIO_ADMIN_PASSWORD": "other-pass"})
    assert note == "Admin user 'boss' already exists."
    assert get_user_model().objects.get(username="boss").check_password("original-pass")


def test_it_says_how_to_create_an_admin_when_there_is_none() -> None:
    assert "manage.py createsuperuser" in ensure_admin({})


def test_it_says_nothing_once_an_admin_exists() -> None:
    get_user_model().objects.create_superuser("boss", password="original-pass")
    assert ensure_admin({}) == ""
