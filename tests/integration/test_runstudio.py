"""`manage.py runstudio` for real: with no Redis at REDIS_URL and SQLite, it starts the embedded
Redis, installs the starter models, starts a worker and daphne, serves pages and static files, and
Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from apps.embedded.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


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


def test_it_runs_the_whole_studio_and_stops_it_on_ctrl_c(tmp_path: Path) -> None:
    port, redis_port = free_port(), free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="studio.settings", STUDIO_VAR_DIR=str(tmp_path),
               DATABASE_URL=f"sqlite:///{tmp_path / 'studio.sqlite3'}",
               REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", PYTHONUNBUFFERED="1")
    env.pop("CELERY_BROKER_URL", None)
    # No VGG19 weights, whatever this machine has cached, so the starter count below is known.
    env["TORCH_HOME"] = str(tmp_path / "torch-home")
    for name in ("STUDIO_VGG19_WEIGHTS", "STUDIO_ALLOW_DOWNLOAD"):
        env.pop(name, None)
    # Nor the text starters' data: they would train for minutes (tests/apps/catalog/test_starters_text.py
    # covers them); pointed at an empty folder they are reported missing.
    env["PANG_LEE_DIR"] = env["JANEAUSTENR_DATA"] = str(tmp_path / "no-text-data")
    proc = subprocess.Popen([sys.executable, "manage.py", "runstudio", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]

    def read_until(text: str, timeout: float) -> None:
        # Already seen? The worker's "ready." can come before or after the web server's line.
        if any(text in line for line in output):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                output.append(lines.get(timeout=0.5))
            except queue.Empty:
                continue
            if text in output[-1]:
                return
        raise AssertionError(f"no {text!r} in:\n{''.join(output)}")

    try:
        # A fresh database: the first start also installs the starter models (tens of seconds).
        read_until(f"The studio is running at http://127.0.0.1:{port}/", 240)
        read_until("ready.", 120)  # the Celery worker
        base = f"http://127.0.0.1:{port}"
        assert "Create account" in urllib.request.urlopen(f"{base}/accounts/signup/").read().decode()
        css = urllib.request.urlopen(f"{base}/static/css/studio.css")
        assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
        text = "".join(output)
        assert f"starting the embedded one at redis://127.0.0.1:{redis_port}/0" in text
        assert "(sqlite3)" in text
        assert "Starter models: 4 installed" in text and "vgg19" in text
        assert "textgen (textgen): " in text and "scripts/text_data.sh" in text  # missing, and why
        family = descendants(proc.pid)
        assert len(family) >= 4  # redis, worker + its pool child, daphne
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    read_until("stopped", 5)
    assert code == 0, "".join(output)
    assert not [pid for pid in family if alive(pid)]
    assert not (tmp_path / "redis" / "redis.pid").exists()
