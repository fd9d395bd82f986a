"""`manage.py runstudio` for real: with no Redis at REDIS_URL and SQLite, it starts the embedded
Redis, installs the starter models, starts a worker and daphne, serves pages and static files, and
Ctrl-C leaves no process behind."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from tests.integration.studio_process import Studio, alive, descendants


def test_it_runs_the_whole_studio_and_stops_it_on_ctrl_c(tmp_path: Path) -> None:
    studio = Studio(tmp_path)
    try:
        # A fresh database: the first start also installs the starter models (tens of seconds).
        studio.read_until(f"The studio is running at {studio.base}/  (daphne; Ctrl-C to stop)", 240)
        studio.read_until("ready.", 120)  # the Celery worker
        # 127.0.0.1 only: no proxy from the environment.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        assert "Create account" in opener.open(f"{studio.base}/accounts/signup/").read().decode()
        css = opener.open(f"{studio.base}/static/css/studio.css")
        assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
        text = studio.text
        assert f"starting the embedded one at redis://127.0.0.1:{studio.redis_port}/0" in text
        assert "(sqlite3)" in text
        assert "Starter models: 4 installed" in text and "vgg19" in text
        assert "textgen (textgen): " in text and "scripts/text_data.sh" in text  # missing, and why
        # The start-up lines that only alarm: dropped, or told why they are harmless.
        assert "HTTP/2 support not enabled" not in text and "Memory overcommit must" not in text
        family = descendants(studio.proc.pid)
        assert len(family) >= 4  # redis, worker + its pool child, daphne
    finally:
        code = studio.stop()
    studio.read_until("stopped", 5)
    assert code == 0, studio.text
    assert not [pid for pid in family if alive(pid)]
    assert not (tmp_path / "redis" / "redis.pid").exists()
