"""A real studio for the benchmarks to drive: ``manage.py runstudio`` started on a fresh folder, a
signed-in HTTP client, and one job submitted through its form and followed on its WebSocket to the
end (bench/image_tools.py's end-to-end part)."""

from __future__ import annotations

import html
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TERMINAL = {"succeeded", "failed", "cancelled"}


def load_average() -> str:
    """What else the machine is doing, for the figures' lines (a shared machine is noisy)."""
    return f"load average {os.getloadavg()[0]:.1f}"


def quantile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile of ``values`` (NaN for none): the benches' p50, p95, p99."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_studio(user: str, password: str, root: Path = ROOT, log: Path | None = None,
                   timeout: float = 600) -> Iterator[tuple[str, int]]:
    """``manage.py runstudio`` of the checkout ``root`` on a fresh var dir and free ports; SIGINT at
    the end, also on errors. Its output goes to ``log`` (a crash in the web server or worker shows
    there)."""
    with tempfile.TemporaryDirectory(prefix="bench-studio-") as var:
        port, redis_port = free_port(), free_port()
        env = dict(os.environ, STUDIO_VAR_DIR=var, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
                   STUDIO_ADMIN_USER=user, STUDIO_ADMIN_PASSWORD=password,
                   DJANGO_SETTINGS_MODULE="studio.settings", PYTHONUNBUFFERED="1")
        for name in ("DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT", "STATIC_ROOT"):
            env.pop(name, None)
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "manage.py", "runstudio", "--port", str(port)], cwd=root,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines: list[str] = []

        def drain() -> None:  # keeps the pipe from filling; the lines are shown if it fails
            with open(log or os.devnull, "w") as out:
                for line in proc.stdout or []:
                    lines.append(line)
                    out.write(line)
                    out.flush()

        threading.Thread(target=drain, daemon=True).start()
        try:
            while not all(any(mark in line for line in lines) for mark in ("studio is running", "ready.")):
                if proc.poll() is not None or time.monotonic() - started > timeout:
                    raise RuntimeError("runstudio did not come up:\n" + "".join(lines[-40:]))
                time.sleep(0.2)
            print(f"runstudio of {root} serving after {time.monotonic() - started:.0f} s (first start: "
                  f"migrate, starter models); SQLite and media in {var}, embedded Redis; {load_average()}")
            found = re.search(r"starting the embedded one at redis://127.0.0.1:(\d+)", "".join(lines))
            if found is None:
                raise RuntimeError("runstudio used a Redis already at the free port, not the embedded one")
            yield f"127.0.0.1:{port}", int(found.group(1))
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            print(f"runstudio stopped (exit status {proc.returncode})")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 302 comes back as it is: its Location names the new job


class Browser:
    def __init__(self, host: str) -> None:
        self.base, self.jar = f"http://{host}", CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def request(self, path: str, body: bytes | None = None, content_type: str = "") -> tuple[int, Any, str]:
        headers = {"Content-Type": content_type} if body else {}
        req = urllib.request.Request(self.base + path, data=body, headers=headers)
        try:
            with self.opener.open(req, timeout=120) as resp:
                return resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read().decode()

    def form_token(self, path: str) -> tuple[str, str]:
        status, _, page = self.request(path)
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not found:
            raise RuntimeError(f"GET {path}: {status}, no CSRF token")
        return found.group(1), page

    def post(self, path: str, fields: dict[str, str], files: dict[str, bytes] | None = None
             ) -> tuple[int, Any, str]:
        """A multipart POST, as a browser sends a form; files are PNGs."""
        boundary = uuid.uuid4().hex
        head = f"--{boundary}\r\nContent-Disposition: form-data; name="
        parts = [f'{head}"{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()]
        for name, data in (files or {}).items():
            parts.append(f'{head}"{name}"; filename="{name}.png"\r\nContent-Type: image/png\r\n\r\n'.encode()
                         + data + b"\r\n")
        return self.request(path, b"".join(parts) + f"--{boundary}--\r\n".encode(),
                            f"multipart/form-data; boundary={boundary}")

    def cookie(self, name: str) -> str:
        return next(c.value or "" for c in self.jar if c.name == name)


def redis_connections(port: int) -> int:
    """Connections the Redis server has accepted so far (INFO stats), this one included."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn, conn.makefile("rb") as reply:
        conn.sendall(b"INFO stats\r\n")
        size = int(reply.readline()[1:])  # a bulk string: $<length>\r\n<text>\r\n
        found = re.search(rb"total_connections_received:(\d+)", reply.read(size))
        assert found, "no total_connections_received in Redis's INFO stats"
        return int(found.group(1))


def at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["at"]).timestamp()


@dataclass
class Submitted:
    """A job just submitted through its tool's form: its id, and when (bench clocks)."""

    job_id: str
    wall: float  # time.time() just before the POST: comparable with the server's event timestamps
    start: float  # time.perf_counter() just before the POST
    post: float  # seconds until the 302 came back


def submit_job(browser: Browser, slug: str, fields: dict[str, str], files: dict[str, bytes]) -> Submitted:
    """POST the tool's form as a browser does; the new job's id is in the 302's Location."""
    wall, start = time.time(), time.perf_counter()
    status, headers, page = browser.post(f"/tools/{slug}/", fields, files)
    if status != 302:
        raise RuntimeError(f"{slug}: submit gave {status}: {html.unescape(page)[:1500]}")
    post = time.perf_counter() - start
    return Submitted(headers["Location"].rstrip("/").split("/")[-1], wall, start, post)


def wait_for_end(browser: Browser, job_id: str) -> tuple[dict[str, Any], float]:
    """Listen on the job's WebSocket, as its page does, until a terminal state; that event and
    time.perf_counter() when it came."""
    from websockets.sync.client import connect
    from websockets.typing import Origin

    cookie = {"Cookie": f"sessionid={browser.cookie('sessionid')}"}
    with connect(f"ws://{browser.base[7:]}/ws/jobs/{job_id}/", additional_headers=cookie,
                 origin=Origin(browser.base), open_timeout=30) as ws:
        while True:
            event = json.loads(ws.recv(timeout=600))
            if event["kind"] == "state" and event["data"]["state"] in TERMINAL:
                return event, time.perf_counter()


def stored_events(browser: Browser, job_id: str) -> list[dict[str, Any]]:
    """The job's events as the server stored them (the JSON poll), with their timestamps."""
    events: list[dict[str, Any]] = json.loads(browser.request(f"/jobs/{job_id}/events/")[2])["events"]
    return events


def result_figure(detail: str, name: str) -> float | None:
    """A number from the job's result summary as its page shows it (e.g. the tool's "seconds")."""
    found = re.search(rf"&#x27;{name}&#x27;: ([0-9.e-]+)", detail)
    return float(found.group(1)) if found else None


def run_job(browser: Browser, redis_port: int, slug: str, fields: dict[str, str], files: dict[str, bytes]
            ) -> dict[str, float]:
    """Submit one job and wait for its result as the job page does; the times, in seconds."""
    connections = redis_connections(redis_port)
    job = submit_job(browser, slug, fields, files)
    event, t_event = wait_for_end(browser, job.job_id)
    _, _, detail = browser.request(f"/jobs/{job.job_id}/")  # job.js fetches the page for the result links
    t_page = time.perf_counter()
    if event["data"]["state"] != "succeeded":
        raise RuntimeError(f"{slug} job {job.job_id} {event['data']['state']}: {event['data'].get('error')}")
    t_poll = time.perf_counter()
    events = stored_events(browser, job.job_id)
    t_poll = time.perf_counter() - t_poll
    connections = redis_connections(redis_port) - connections - 1  # less the bench's own INFO
    states = {e["data"]["state"]: at(e) for e in events if e["kind"] == "state"}
    progress = [at(e) for e in events if e["kind"] == "progress"]
    seconds, loading = result_figure(detail, "seconds"), result_figure(detail, "load_seconds")
    hit = "&#x27;cache&#x27;: &#x27;hit&#x27;" in detail
    if seconds is None or "result-image" not in detail:
        raise RuntimeError(f"{slug} job {job.job_id}: no result seconds or result image on the page")
    end_to_end, compute = t_page - job.start, seconds
    wall_event = job.wall + (t_event - job.start)
    return {"e2e": end_to_end, "compute": compute, "overhead": end_to_end - compute, "cache_hit": float(hit),
            "post": job.post, "submit": states["queued"] - job.wall,
            "queue": states["running"] - states["queued"],
            "start": progress[0] - states["running"], "work": progress[-1] - progress[0],
            "finish": states["succeeded"] - progress[-1], "push": wall_event - states["succeeded"],
            "page": t_page - t_event, "poll": t_poll, "redis": connections,
            "load": loading or 0.0}


def log_in(host: str, user: str, password: str) -> Browser:
    """A browser signed in through the login form, its session cookie set."""
    browser = Browser(host)
    token, _ = browser.form_token("/accounts/login/")
    status, _, _ = browser.post("/accounts/login/", {"username": user, "password": password,
                                                     "csrfmiddlewaretoken": token, "next": "/"})
    if status != 302:
        raise RuntimeError(f"login failed ({status})")
    return browser


def sign_in(host: str, user: str, password: str) -> tuple[Browser, str, str]:
    """A logged-in browser, its CSRF token and the fast-style tool's first style."""
    browser = log_in(host, user, password)
    token, page = browser.form_token("/tools/fast-style/")
    return browser, token, html.unescape(re.findall(r'<option value="([^"]+)"', page)[0])
