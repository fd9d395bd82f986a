"""The one-command run as a small fleet, for real: `runstudio --web-processes 2` with the Redis it
started itself. Two uvicorn processes serve the port, and a job's events reach a WebSocket on
either, whichever served the submit (the Channels layer in Redis). A killed child does not take
the studio down: the invoke server is started again and answers; a killed embedded Redis is started
again, and the invoke server, worker and web processes carry on with it (same processes)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.conftest import wait_for
from tests.integration.studio_process import Browser, Studio, alive, serving_pid

pytestmark = pytest.mark.timeout(600)  # the first start installs the starter models

USER, PASSWORD = "fleet-admin", "pw-for-fleet-tests-1"


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    var = tmp_path_factory.mktemp("fleet")
    studio = Studio(var, "--web-processes", "2",
                    STUDIO_ADMIN_USER=USER, STUDIO_ADMIN_PASSWORD=PASSWORD, STUDIO_DIAGNOSTIC_TOOLS="1")
    try:
        studio.read_until(f"The studio is running at {studio.base}/  (2 uvicorn worker processes", 360)
        studio.read_until("ready.", 120)  # the Celery worker
        studio.read_until("serving invokes", 120)
        yield studio
        assert studio.proc.poll() is None, "runstudio stopped while the tests ran"
    finally:
        code = studio.stop()
        (var / "runstudio.log").write_text(studio.text)  # what each child said, for a failure
    assert code == 0, studio.text[-5000:]


@pytest.fixture(scope="module")
def signed_in(studio: Studio) -> tuple[Browser, str]:
    browser = Browser(studio.port)
    return browser, browser.sign_in(USER, PASSWORD)


def web_pids(studio: Studio) -> list[int]:
    """uvicorn's worker processes (its own supervisor process does not serve)."""
    return studio.children("multiprocessing.spawn")


def open_socket(studio: Studio, browser: Browser, job_id: str) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{studio.port}/ws/jobs/{job_id}/",
                   additional_headers={"Cookie": f"sessionid={browser.cookies['sessionid']}"},
                   origin=Origin(studio.base), open_timeout=30)


def events_to_the_end(ws: ClientConnection, timeout: float = 60) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not (events and events[-1]["kind"] == "state" and events[-1]["data"]["state"] == "succeeded"):
        events.append(json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
    return events


def accepting(studio: Studio, pids: list[int], timeout: float = 60) -> None:
    """Until each of ``pids`` has accepted a connection: a process may still be loading the studio
    (its port is bound first), and until then the other takes every connection."""
    served: set[int] = set()
    deadline = time.monotonic() + timeout
    while served != set(pids):
        assert time.monotonic() < deadline, f"only {served} of {pids} accept connections"
        conn = http.client.HTTPConnection("127.0.0.1", studio.port, timeout=30)
        conn.connect()
        try:
            served.add(serving_pid(studio.port, conn.sock.getsockname()[1], pids))
        finally:
            conn.close()
        time.sleep(0.05)


def test_a_jobs_events_reach_a_websocket_on_either_web_process(studio: Studio,
                                                                signed_in: tuple[Browser, str]) -> None:
    browser, token = signed_in
    pids = web_pids(studio)
    assert len(pids) == 2
    accepting(studio, pids)
    browser.conn.close()
    browser.conn.connect()  # the submit goes on this connection: which process serves it?
    sock = browser.conn.sock
    submit_pid = serving_pid(studio.port, sock.getsockname()[1], pids)
    status, body = browser.api(token, "/api/tools/sleep/jobs",
                               {"params": json.dumps({"steps": 12, "step_seconds": 0.5})}, form=True)
    assert status == 201, body[:2000]
    assert browser.conn.sock is sock  # served there, not on a new connection
    job_id = json.loads(body)["id"]

    # One WebSocket on each process: the kernel hands each new connection to either.
    sockets: dict[int, ClientConnection] = {}
    deadline = time.monotonic() + 30
    while len(sockets) < 2 and time.monotonic() < deadline:
        ws = open_socket(studio, browser, job_id)
        pid = serving_pid(studio.port, ws.socket.getsockname()[1], pids)
        if pid in sockets:
            ws.close()
            time.sleep(0.1)
        else:
            sockets[pid] = ws
    opened = time.time()
    assert set(sockets) == set(pids) and submit_pid in pids
    try:
        seen = {pid: events_to_the_end(ws) for pid, ws in sockets.items()}
    finally:
        for ws in sockets.values():
            ws.close()
    for pid, events in seen.items():
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), pid  # all, in order
        assert [e["data"]["step"] for e in events if e["kind"] == "progress"][-1] == 12
    # The end was recorded (by the worker) after both sockets were open: it reached them live,
    # through Redis, on the process that served the submit and on the other one.
    end = seen[submit_pid][-1]
    assert datetime.fromisoformat(end["at"]).timestamp() > opened
    assert seen[pids[0]] == seen[pids[1]]


def invoke_answers(browser: Browser, token: str, seed: int) -> bool:
    """A synchronous DCGAN invoke; False on 504 (no invoke server answered within its timeout) or
    another refusal while a child is coming back."""
    status, body = browser.api(token, "/api/tools/dcgan/invoke", {"n": 1, "seed": seed})
    return status == 200 and body.startswith(b"\x89PNG")


def test_a_killed_invoke_server_is_started_again_and_answers(studio: Studio,
                                                            signed_in: tuple[Browser, str]) -> None:
    browser, token = signed_in
    assert invoke_answers(browser, token, seed=1)
    [invoke] = studio.children("serve_invoke")
    mark = len(studio.output)
    os.kill(invoke, signal.SIGKILL)
    studio.read_until("invoke exited with status -9 after", 10, start=mark)
    studio.read_until("starting it again in 1 s", 1, start=mark)
    wait_for(lambda: studio.children("serve_invoke") not in ([], [invoke]), 10, "a new invoke server")
    started = time.monotonic()
    wait_for(lambda: invoke_answers(browser, token, seed=2), 90, "the invoke to answer again")
    print(f"invoke answering again {time.monotonic() - started:.1f} s after the restart")
    assert studio.proc.poll() is None and not alive(invoke)


def test_a_killed_embedded_redis_is_started_again_and_the_others_carry_on(
        studio: Studio, signed_in: tuple[Browser, str]) -> None:
    browser, token = signed_in
    others = {name: studio.children(name) for name in ("serve_invoke", "celery", "multiprocessing.spawn")}
    [redis_pid] = studio.children("redis-server")
    mark = len(studio.output)
    os.kill(redis_pid, signal.SIGKILL)
    studio.read_until("redis exited with status -9 after", 10, start=mark)
    studio.read_until("Ready to accept connections", 15, start=mark)
    wait_for(lambda: invoke_answers(browser, token, seed=3), 60, "the invoke to answer again")
    # Reconnected, not restarted: the same invoke server, worker and web processes.
    assert {name: studio.children(name) for name in others} == others
    assert studio.proc.poll() is None
