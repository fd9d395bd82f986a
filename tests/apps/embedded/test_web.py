"""The web server's command: one process is daphne, as before; several are uvicorn's workers on
the one port; STUDIO_WEB_PROCESSES picks the number. And the start-up lines that only alarm."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from apps.embedded import web
from apps.embedded.redis_server import free_port
from apps.embedded.supervisor import relayed

ROOT = Path(__file__).resolve().parents[3]


def test_one_process_is_daphne() -> None:
    assert web.command("127.0.0.1", 8000) == [
        sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "8000", "studio.asgi:application"]
    assert "--proxy-headers" in web.command("0.0.0.0", 8000, proxy_headers=True)


def test_several_are_uvicorn_workers_on_one_port() -> None:
    argv = web.command("0.0.0.0", 8001, 3, proxy_headers=True)
    assert argv[:4] == [sys.executable, "-m", "uvicorn", "studio.asgi:application"]
    assert argv[argv.index("--workers") + 1] == "3" and argv[argv.index("--port") + 1] == "8001"
    assert argv[argv.index("--ws") + 1] == "websockets-sansio"  # WebSockets, not refused upgrades
    assert argv[argv.index("--forwarded-allow-ips") + 1] == "*"
    assert "--no-proxy-headers" in web.command("127.0.0.1", 8001, 2)


def test_no_processes_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1, not 0"):
        web.command("127.0.0.1", 8000, 0)


def test_the_number_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_WEB_PROCESSES", raising=False)
    assert web.processes_from_env() == 1
    monkeypatch.setenv("STUDIO_WEB_PROCESSES", "4")
    assert web.processes_from_env() == 4


def test_nothing_listening_is_not_serving() -> None:
    assert not web.serving("127.0.0.1", free_port(), timeout=1)
    assert web.local_address("0.0.0.0") == "127.0.0.1" and web.local_address("::") == "::1"


def test_the_lines_that_do_not_apply_are_dropped_or_explained() -> None:
    assert relayed("2026-12-02 10:00:00,000 INFO     HTTP/2 support not enabled (install the http2 "
                   "and tls Twisted extras)") is None
    note = relayed("1:M 02 Dec 2026 10:00:00.000 # WARNING Memory overcommit must be enabled! Without "
                   "it, a background save or replication may fail under low memory condition.")
    assert note == ("vm.overcommit_memory is 0 on this machine: harmless here, the embedded Redis "
                    "keeps nothing on disk and so never forks to save")
    assert relayed("Listening on TCP address 127.0.0.1:8000") == "Listening on TCP address 127.0.0.1:8000"


def test_docker_serves_through_the_same_command() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["web"]["command"][-1].endswith(
        "exec python -m apps.embedded.web --host 0.0.0.0 --port 8000 --proxy-headers")
    assert 'CMD ["python", "-m", "apps.embedded.web", "--host", "0.0.0.0", "--port", "8000"]' in (
        ROOT / "Dockerfile").read_text()
