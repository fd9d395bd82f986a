"""Workers that share no disk: the web server and the worker each have their own, empty MEDIA_ROOT
and local folders, and every file goes through a real S3 server (SeaweedFS). A job submitted
through the web runs on the worker, its result downloads through the owner-checked views with the
bytes stored in the bucket (another user gets 404); the catalog version it used was uploaded to
the bucket and reaches the worker through its local cache by sha256; a cancelled training's
checkpoint reaches a resume on a fresh worker whose disk never saw it."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings
from PIL import Image

from apps.api.models import ApiToken
from apps.jobs import services
from apps.jobs.models import Job, JobFile
from apps.jobs.workdir import state_key
from tests.conftest import (
    ROOT,
    _start_worker,
    _subprocess_env,
    free_port,
    install_feature_network,
    png_bytes,
    require_services,
    service_reachable,
    stack_worker_stopped,
)
from tests.integration.helpers import finished, job_state, logged_in, wait_for
from tests.s3_server import S3Server

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PREFIX = "object-storage-tests"  # this module's keys in the session's bucket


@dataclass
class S3Stack:
    """A web server and a worker on the test database and a broker of their own, each with its own
    local folders, and files only in S3."""

    base_url: str
    env: dict[str, str]
    root: Path
    web: subprocess.Popen
    worker: subprocess.Popen
    worker_dir: Path

    def fresh_worker(self) -> None:
        """Replace the worker by one on another, empty local disk (as on another machine)."""
        _end(self.worker)
        self.worker_dir = self.root / f"worker-{uuid.uuid4().hex[:8]}"
        self.worker = _start_worker({**self.env, **_local(self.worker_dir)}, self.worker_dir)

    def local_files(self, folder: Path) -> list[str]:
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _local(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return {"MEDIA_ROOT": str(folder / "media"), "STUDIO_VAR_DIR": str(folder / "var")}


def _end(proc: subprocess.Popen) -> None:
    """End a process this module started, with its process group (a worker's pool children)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def s3_stack(s3_server: S3Server, django_db_setup: Any, django_db_blocker: Any,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Stack]:
    require_services()
    import redis
    from django.conf import settings
    from django.db import connection

    # A broker database of its own, so that the session's other worker (the `stack` fixture's)
    # never takes these jobs: 1-7, beside the test runs' 9-15 (tests/settings.py) and the default 0.
    redis_url = f"redis://127.0.0.1:6379/{(int(settings.REDIS_URL.rsplit('/', 1)[1]) + 8) % 16}"
    redis.Redis.from_url(redis_url).flushdb()
    root = tmp_path_factory.mktemp("s3-stack")
    env = {**_subprocess_env(connection.settings_dict["NAME"]), **s3_server.env(PREFIX),
           "REDIS_URL": redis_url}
    worker_dir = root / "worker-1"
    worker = _start_worker({**env, **_local(worker_dir)}, worker_dir)
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "studio.asgi:application"],
        cwd=ROOT, env={**env, **_local(root / "web")}, stdout=open(root / "web.log", "ab"),
        stderr=subprocess.STDOUT, start_new_session=True)
    stack = S3Stack(f"http://127.0.0.1:{port}", env, root, web, worker, worker_dir)
    # Nor may the session's worker's sweep take a job queued here for long (no message in its broker).
    with stack_worker_stopped():
        try:
            wait_for(lambda: service_reachable("127.0.0.1", port), 30, "the ASGI server to start")
            yield stack
        finally:
            _end(stack.worker)
            _end(web)


@pytest.fixture(autouse=True)
def s3_files(s3_server: S3Server) -> Iterator[None]:
    """This process stores and reads files in the same bucket as the web server and the worker."""
    with override_settings(STORAGES=s3_server.storages(PREFIX)):
        yield


def api(stack: S3Stack, token: str, path: str, fields: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes]] | None = None) -> tuple[int, bytes]:
    """A request to the web server with an API token: a POST (multipart) when ``fields`` is given."""
    body, headers = (None if fields is None else b""), {"Authorization": f"Bearer {token}"}
    if fields or files:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in (fields or {}).items()]
        parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
                  f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
                  for k, (name, data) in (files or {}).items()]
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    return _open(urllib.request.Request(stack.base_url + path, data=body, headers=headers))


def page(stack: S3Stack, client: Client, path: str) -> tuple[int, bytes]:
    """A GET of a page as the user ``client`` is signed in as (its session cookie)."""
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return _open(urllib.request.Request(stack.base_url + path, headers={"Cookie": cookie}))


def _open(request: urllib.request.Request) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def token_for(user: Any) -> str:
    return ApiToken.issue(user, "object storage")[1]


def submitted(stack: S3Stack, token: str, slug: str, params: dict[str, Any],
              files: dict[str, tuple[str, bytes]]) -> Job:
    status, body = api(stack, token, f"/api/tools/{slug}/jobs", {"params": json.dumps(params)}, files)
    assert status == 201, body[:2000]
    return Job.objects.get(pk=json.loads(body)["id"])


def stored_bytes(server: S3Server, name: str) -> bytes:
    body = server.client().get_object(Bucket=server.bucket, Key=f"{PREFIX}/{name}")["Body"]
    return bytes(body.read())


def test_a_job_runs_on_a_worker_without_the_webs_disk(s3_stack: S3Stack, s3_server: S3Server) -> None:
    features = install_feature_network()  # stored in the bucket by this process, not by the worker
    assert f"{PREFIX}/{features.checkpoint.name}" in s3_server.keys(f"{PREFIX}/catalog/")
    alice, alice_client = logged_in("alice")
    bob, bob_client = logged_in("bob")
    job = submitted(s3_stack, token_for(alice), "style",
                    {"steps": 20, "max_side": 64, "optimizer": "lbfgs", "style_weight": 1e6,
                     "content_weight": 1, "tv_weight": 0, "seed": 1},
                    {"content": ("c.png", png_bytes((64, 48))),
                     "style": ("s.png", png_bytes((40, 40), (30, 160, 90)))})
    finished(job, 180)
    assert job.result["model"]["sha256"] == features.sha256 and job.result["model"]["cache"] == "miss"

    result = job.files.get(role=JobFile.Role.RESULT, name="stylized.png")
    stored = stored_bytes(s3_server, result.file.name)
    assert Image.open(io.BytesIO(stored)).size == (64, 48) and len(stored) == result.size
    inputs = {f.name: stored_bytes(s3_server, f.file.name) for f in job.files.filter(role=JobFile.Role.INPUT)}
    assert inputs == {"c.png": png_bytes((64, 48)), "s.png": png_bytes((40, 40), (30, 160, 90))}
    # Downloads: the owner gets the stored bytes, from the page view and the API; others a 404.
    download = f"/jobs/{job.pk}/files/{result.pk}/"
    assert page(s3_stack, alice_client, download) == (200, stored)
    assert api(s3_stack, token_for(alice), f"/api/jobs/{job.pk}/files/{result.pk}") == (200, stored)
    assert page(s3_stack, bob_client, download)[0] == 404
    assert api(s3_stack, token_for(bob), f"/api/jobs/{job.pk}/files/{result.pk}")[0] == 404

    # Nothing went through a local disk: the web's and the worker's MEDIA_ROOT never got a file,
    # and the worker keeps only its copy of the checkpoint, named by its sha256.
    assert s3_stack.local_files(s3_stack.root / "web" / "media") == []
    assert s3_stack.local_files(s3_stack.worker_dir / "media") == []
    cached = s3_stack.worker_dir / "var" / "cache" / "checkpoints" / features.sha256
    assert cached.read_bytes() == stored_bytes(s3_server, features.checkpoint.name)
    assert s3_stack.local_files(s3_stack.worker_dir / "var" / "cache") == [f"checkpoints/{features.sha256}"]


def image_zip(n: int = 8) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(n):
            archive.writestr(f"set/{i:03d}.png", png_bytes((40, 30), (30 * i % 256, 100, 200)))
    return buffer.getvalue()


def test_a_cancelled_training_resumes_on_a_fresh_worker(s3_stack: S3Stack, s3_server: S3Server) -> None:
    alice, _ = logged_in("alice")
    token = token_for(alice)
    # 50 epochs of 4 steps: about 27 ms a step on one CPU core, so there is time to cancel.
    params = {"image_size": 32, "epochs": 50, "batch_size": 2, "ngf": 8, "ndf": 8,
              "sample_every": 100_000, "seed": 1, "name": "resumed on another worker"}
    job = submitted(s3_stack, token, "train-dcgan", params, {"images": ("set.zip", image_zip())})
    wait_for(lambda: job_state(job) == "running" and job.step >= 10, 120, "10 training steps")
    assert api(s3_stack, token, f"/api/jobs/{job.pk}/cancel", {})[0] == 200
    wait_for(lambda: job_state(job) in ("cancelled", "succeeded", "failed"), 60, "the cancel")
    assert job.state == "cancelled", job.error
    assert state_key(job.pk) in {k[len(PREFIX) + 1:] for k in s3_server.keys(f"{PREFIX}/jobs/{job.pk}/")}
    assert services.can_resume(job)
    worker_work = s3_stack.worker_dir / "var" / "cache" / "work"
    assert list(worker_work.iterdir()) == []  # the attempt's folder went with it

    s3_stack.fresh_worker()  # never saw the job, its inputs or its checkpoint
    status, body = api(s3_stack, token, f"/api/jobs/{job.pk}/resume", {})
    assert status == 201, body
    resumed = finished(Job.objects.get(pk=json.loads(body)["id"]), 180)
    stopped_at = resumed.result["resumed_from"]
    assert 10 <= stopped_at < 200 and resumed.result["steps"] == 200
    # It went on from the checkpoint, not from the start: its first event carries the earlier job's
    # chart, and every step it reports comes after the one it resumed at.
    carried, *progress = resumed.events.filter(kind="progress").order_by("seq").values_list("data", flat=True)
    assert carried["history"] and max(step for step, _ in carried["history"]) <= stopped_at
    trained = [d["step"] for d in progress if d["total"]]  # not "reading the images"
    assert trained and min(trained) >= stopped_at
    # Finished: the new job keeps no checkpoint; the cancelled one still has its own.
    assert s3_server.keys(f"{PREFIX}/jobs/{resumed.pk}/work/") == []
    assert s3_server.keys(f"{PREFIX}/jobs/{job.pk}/work/") == [f"{PREFIX}/{state_key(job.pk)}"]
    assert list((s3_stack.worker_dir / "var" / "cache" / "work").iterdir()) == []
    assert s3_stack.local_files(s3_stack.worker_dir / "media") == []
