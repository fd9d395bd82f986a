from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db


def test_it_creates_a_user_and_logs_them_in(client: Client) -> None:
    response = client.post("/accounts/signup/", {"username": "zoe", "password1": "correct-horse-92",
                                                 "password2": "correct-horse-92"})
    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get(username="zoe")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get("/").status_code == 200


def test_it_rejects_mismatched_passwords(client: Client) -> None:
    response = client.post("/accounts/signup/", {"username": "zoe", "password1": "correct-horse-92",
                                                 "password2": "other-horse-92"})
    assert response.status_code == 200
    assert b"The two password fields" in response.content
    assert not get_user_model().objects.filter(username="zoe").exists()


def test_it_sends_a_logged_in_user_home(alice_client: Client) -> None:
    response = alice_client.get("/accounts/signup/")
    assert response.status_code == 302 and response["Location"] == "/"
