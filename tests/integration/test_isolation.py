"""Another user cannot watch, cancel or download your job, over the real server."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from apps.jobs.models import JobFile
from tests.integration.helpers import job_state, logged_in, open_socket, submit, wait_for, watch_to_the_end

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_other_user_cannot_stream_cancel_or_download(stack):
    _, owner = logged_in("owner")
    _, other = logged_in("other")
    job = submit(owner, "sleep", {"steps": 10, "step_seconds": 0.1})

    # The consumer closes before accepting, so the handshake itself is refused.
    with pytest.raises(InvalidStatus) as refused:
        open_socket(stack, other, job)
    assert refused.value.response.status_code == 403

    assert other.post(f"/jobs/{job.pk}/cancel/").status_code == 404
    assert watch_to_the_end(stack, owner, job)[-1]["data"]["state"] == "succeeded"
    assert job_state(job) == "succeeded" and job.cancel_requested_at is None
    result = job.files.get(role=JobFile.Role.RESULT)
    assert other.get(f"/jobs/{job.pk}/files/{result.pk}/").status_code == 404
    assert other.get(f"/jobs/{job.pk}/").status_code == 404
    mine = owner.get(f"/jobs/{job.pk}/files/{result.pk}/")
    assert mine.status_code == 200 and b"".join(mine.streaming_content) == b"slept 10 steps\n"


def test_websocket_from_a_foreign_origin_is_refused(stack):
    _, owner = logged_in("origin-owner")
    job = submit(owner, "sleep", {"steps": 1, "step_seconds": 0})
    cookie = f"sessionid={owner.cookies['sessionid'].value}"
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{stack.ws_url}/ws/jobs/{job.pk}/", additional_headers={"Cookie": cookie},
                origin="http://evil.example", open_timeout=10)
    assert refused.value.response.status_code == 403
    # The origin check refuses only the socket; the job itself runs, and finishes before teardown.
    wait_for(lambda: job_state(job) == "succeeded", what="the job to finish")
