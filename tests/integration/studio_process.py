"""Helpers for the tests that run `manage.py runstudio` for real: a fresh STUDIO_VAR_DIR and free
ports, its output read line by line, its process tree from /proc, which process serves a given TCP
connection, and a signed-in browser over plain http.client (127.0.0.1 only, never a proxy)."""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from apps.embedded.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def studio_env(var_dir: Path, redis_port: int, **extra: str) -> dict[str, str]:
    """runstudio's environment: SQLite and media in ``var_dir``, no Redis at ``redis_port`` (so it
    starts the embedded one there), and a known set of starter models."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="studio.settings", STUDIO_VAR_DIR=str(var_dir),
               DATABASE_URL=f"sqlite:///{var_dir / 'studio.sqlite3'}",
               REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", PYTHONUNBUFFERED="1", **extra)
    for name in ("CELERY_BROKER_URL", "MEDIA_ROOT", "STATIC_ROOT", "STUDIO_WEB_PROCESSES"):
        env.pop(name, None)
    # No VGG19 weights, whatever this machine has cached, so the starter count is known.
    env["TORCH_HOME"] = str(var_dir / "torch-home")
    for name in ("STUDIO_VGG19_WEIGHTS", "STUDIO_ALLOW_DOWNLOAD"):
        env.pop(name, None)
    # Nor the text starters' data: they would train for minutes (tests/apps/catalog/test_starters_text.py
    # covers them); pointed at an empty folder they are reported missing.
    env["PANG_LEE_DIR"] = env["JANEAUSTENR_DATA"] = str(var_dir / "no-text-data")
    return env


class Studio:
    """`manage.py runstudio` started in its own process group; its output collected as it comes."""

    def __init__(self, var_dir: Path, *args: str, **env: str) -> None:
        self.port, self.redis_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runstudio", "--port", str(self.port), *args], cwd=ROOT,
            env=studio_env(var_dir, self.redis_port, **env), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self._lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=lambda: [self._lines.put(line) for line in self.proc.stdout or []],
                         daemon=True).start()

    @property
    def text(self) -> str:
        self._drain()
        return "".join(self.output)

    def _drain(self) -> None:
        while True:
            try:
                self.output.append(self._lines.get_nowait())
            except queue.Empty:
                return

    def read_until(self, text: str, timeout: float, start: int = 0) -> None:
        """Wait until a line from ``start`` on holds ``text`` (lines of several children may come
        in any order, so one already read counts)."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.output[start:]):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} within {timeout} s in:\n{self.text}")
            try:
                self.output.append(self._lines.get(timeout=0.5))
            except queue.Empty:
                continue

    def children(self, marker: str) -> list[int]:
        """The runstudio descendants whose command line holds ``marker``."""
        return sorted(pid for pid in descendants(self.proc.pid) if marker in cmdline(pid))

    def stop(self, timeout: float = 60) -> int:
        """Ctrl-C, as a person would; killed (its whole group) if it does not stop in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def serving_pid(server_port: int, client_port: int, pids: list[int], timeout: float = 10) -> int:
    """Which of ``pids`` holds the server end of the local TCP connection from ``client_port``:
    its socket's inode from /proc/net/tcp, then the process with a descriptor on that inode. Until
    a process has accepted the connection (it may still wait in the listening socket's queue), none
    has; so ask again for up to ``timeout`` seconds."""
    wanted = f"0100007F:{server_port:04X} 0100007F:{client_port:04X}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if f"{fields[1]} {fields[2]}" == wanted:
                link = f"socket:[{fields[9]}]"
                for pid in pids:
                    for fd in Path(f"/proc/{pid}/fd").iterdir():
                        try:
                            if os.readlink(fd) == link:
                                return pid
                        except OSError:
                            continue
        time.sleep(0.05)
    raise AssertionError(f"none of {pids} serves the connection from port {client_port}")


class Browser:
    """A signed-in user over one keep-alive connection; cookies kept, CSRF tokens sent."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body, {"Cookie": cookie, **(headers or {})})
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closed the kept-alive connection while it was idle: once more on a
                # new one, as a browser does.
                self.conn.close()
                if attempt == 2:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            name, value = header.split(";", 1)[0].split("=", 1)
            self.cookies[name] = value
        return response.status, data

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, bytes]:
        status, page = self.request("GET", path)
        found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert status == 200 and found, f"GET {path}: {status}, no CSRF token"
        body = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": found.group(1).decode()}).encode()
        return self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})

    def sign_in(self, user: str, password: str) -> str:
        """Log in and make an API token; the token."""
        status, _ = self.post_form("/accounts/login/", {"username": user, "password": password})
        assert status == 302, f"login: {status}"
        status, page = self.post_form("/accounts/tokens/", {"name": "integration"})
        found = re.search(rb'<pre id="new-token-value">([^<]+)</pre>', page)
        assert status == 200 and found, f"token page: {status}"
        return found.group(1).decode()

    def api(self, token: str, path: str, payload: dict[str, Any], form: bool = False) -> tuple[int, bytes]:
        """POST to the API: JSON, or (``form``) urlencoded fields."""
        if form:
            body = urllib.parse.urlencode(payload).encode()
            kind = "application/x-www-form-urlencoded"
        else:
            body, kind = json.dumps(payload).encode(), "application/json"
        return self.request("POST", path, body, {"Authorization": f"Bearer {token}", "Content-Type": kind})
