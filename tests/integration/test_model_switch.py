"""The catalog on the real path: a running worker keeps the model it loaded (the second job skips
loading), and an admin's switch in the admin reaches the next job without restarting the worker."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import install_feature_network
from tests.integration.helpers import finished, logged_in, submit_style

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_worker_keeps_the_model_and_follows_an_admin_switch(stack, admin_user) -> None:
    first = install_feature_network("Lite0 A", note="a")
    second = install_feature_network("Lite0 B", note="b", activate=False)
    _, client = logged_in("alice")
    worker_pid = stack.worker.pid

    jobs = [finished(submit_style(client, steps=4)) for _ in range(2)]
    models = [job.result["model"] for job in jobs]
    assert [job.model for job in jobs] == [first, first]
    assert [m["cache"] for m in models] == ["miss", "hit"]
    assert models[0]["load_seconds"] > 0 and models[1]["load_seconds"] == 0

    admin = Client()
    admin.force_login(admin_user)
    response = admin.post("/admin/catalog/modelversion/",
                          {"action": "activate", "_selected_action": [second.pk]})
    assert response.status_code == 302

    third = finished(submit_style(client, steps=4))
    assert third.model == second and third.model_sha256 == second.sha256
    assert third.model_version == second.label and third.result["model"]["cache"] == "miss"
    assert stack.worker.pid == worker_pid and stack.worker.poll() is None  # same worker, no restart
    assert len({job.worker for job in [*jobs, third]}) == 1
