"""The studio as a fleet on one machine: two web processes, three workers that share no disk (each
its own empty media folder; files only in a real S3 server), PostgreSQL and a Redis of the fleet's
own. 60 mixed jobs (sleep, DCGAN samples from the catalog in S3, Gatys style on uploaded images)
go in through the API of both web processes; one worker's whole process tree is killed mid-job and
never restarted; Redis is restarted once, losing every queued message. Every job must end
succeeded exactly once, with gap-free events, its results in S3 and none on a worker's disk, and
the killed worker's job must end on another worker within 90 s."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from apps.api.models import ApiToken
from apps.jobs.models import Job, JobFile
from tests.conftest import (
    _subprocess_env,
    install_feature_network,
    install_starter,
    png_bytes,
    require_services,
    stack_worker_stopped,
    wait_for,
)
from tests.fleet.fleet import Fleet, api_submit
from tests.s3_server import S3Server

pytestmark = [pytest.mark.django_db(transaction=True)]

PREFIX = "fleet"
SLEEPS, FACES, STYLES = 44, 10, 6  # + 3 long sleeps that the workers hold when one is killed
ALL_DONE_WITHIN_S = 300


@pytest.fixture(scope="module")
def fleet(s3_server: S3Server, django_db_setup: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    require_services()
    from django.db import connection

    folder = tmp_path_factory.mktemp("fleet")
    fleet = Fleet({**_subprocess_env(connection.settings_dict["NAME"]), **s3_server.env(PREFIX)}, folder)
    # The stack's worker shares the test database: its sweep would take the fleet's queued jobs.
    with stack_worker_stopped():
        try:
            fleet.start_redis()
            for name in ("w1", "w2", "w3"):
                fleet.start_worker(name)
            for _ in range(2):
                fleet.start_web()
            fleet.wait_ready()
            yield fleet
        finally:
            fleet.stop()


def local_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_sixty_jobs_survive_a_lost_worker_and_a_redis_restart(
        fleet: Fleet, s3_server: S3Server, django_user_model: Any,
        record_property: Callable[[str, object], None]) -> None:
    with override_settings(STORAGES=s3_server.storages(PREFIX)):
        install_starter("dcgan", "gan_face_generate", "gan-face-generate")
        install_feature_network()
    user = django_user_model.objects.create_user("fleet-user", password="pw-for-tests-1")
    _, token = ApiToken.issue(user, "fleet")
    ports = [web.port for web in fleet.webs]

    # One long job per worker, so that each worker is busy when one of them is killed.
    long_jobs = [api_submit(ports[i % 2], token, "sleep", {"steps": 100, "step_seconds": 0.1})
                 for i in range(3)]
    wait_for(lambda: Job.objects.filter(pk__in=long_jobs, state="running", step__gte=3).count() == 3, 120,
             "the three long jobs to run, one per worker")
    victim_job = Job.objects.get(pk=long_jobs[0])
    victim = victim_job.worker.split("@")[0]
    fleet.workers[victim].kill_tree()
    killed_at = time.time()  # wall clock, as the job's finished_at

    jobs = list(long_jobs)
    content, style = png_bytes((64, 48)), png_bytes((40, 40), (30, 160, 90))
    for i in range(SLEEPS + FACES + STYLES):
        port = ports[i % 2]
        if i < SLEEPS:
            jobs.append(api_submit(port, token, "sleep", {"steps": 3 + i % 8, "step_seconds": 0.1}))
        elif i < SLEEPS + FACES:
            jobs.append(api_submit(port, token, "dcgan", {"mode": "grid", "n": 4, "seed": i}))
        else:
            jobs.append(api_submit(port, token, "style", {
                "steps": 5, "max_side": 64, "optimizer": "adam", "style_weight": 1e6, "content_weight": 1,
                "tv_weight": 0, "seed": i}, {"content": content, "style": style}))
    assert len(jobs) == 63

    wait_for(lambda: Job.objects.filter(pk__in=jobs, state="succeeded").count() >= 15, 120,
             "a quarter of the jobs to finish")
    down_for = fleet.restart_redis()  # every message still queued is lost with it

    wait_for(lambda: Job.objects.filter(pk__in=jobs, state__in=["succeeded", "failed", "cancelled"]).count()
             == len(jobs), ALL_DONE_WITHIN_S, "every job to end")
    victim_job.refresh_from_db()
    assert victim_job.finished_at is not None
    recovered_in = victim_job.finished_at.timestamp() - killed_at

    ended = {job.pk: job for job in Job.objects.filter(pk__in=jobs)}
    assert Counter(job.state for job in ended.values()) == {"succeeded": 63}, \
        {str(j.pk): (j.kind, j.state, j.error) for j in ended.values() if j.state != "succeeded"}
    for job in ended.values():
        events = list(job.events.order_by("seq"))
        assert [e.seq for e in events] == list(range(1, job.last_seq + 1)), job.pk
        assert [e.data["state"] for e in events if e.kind == "state"].count("succeeded") == 1
        names = [f.name for f in job.files.filter(role=JobFile.Role.RESULT)]
        assert len(names) == len(set(names)) and names, (job.kind, names)  # stored once each
    keys = set(s3_server.keys(f"{PREFIX}/jobs/"))
    for job_file in JobFile.objects.filter(job_id__in=jobs, role=JobFile.Role.RESULT):
        assert f"{PREFIX}/{job_file.file.name}" in keys
    for name in fleet.workers:
        assert not [f for f in local_files(fleet.folder / name / "media") if f.startswith("jobs/")], name

    assert victim_job.worker.split("@")[0] != victim and victim_job.attempts == 2
    assert recovered_in < 90
    # The restart lost the queued messages; the survivors' sweeps sent them again.
    resent = sum(w.log.read_text(errors="replace").count("with no message in the broker; sent again")
                 for w in fleet.workers.values())
    assert resent > 0
    by_worker = Counter(job.worker.split("@")[0] for job in ended.values())
    # Printed at the end of the run (tests/plugin.py).
    record_property("summary", f"fleet: 63 jobs succeeded; {victim} killed (its job ended on "
                    f"{victim_job.worker} {recovered_in:.1f} s later); Redis down {down_for:.1f} s, "
                    f"{resent} lost messages sent again; jobs per worker {dict(by_worker)}")
