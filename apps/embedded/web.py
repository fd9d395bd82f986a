"""The ASGI web server, as one process or several on one port.

One process (the default) is daphne, Channels' own server. Several are uvicorn's ``--workers N``:
its supervisor binds the port once and hands the socket to N worker processes, and starts again a
worker that dies or stops answering. A page's WebSocket may land on any of them; the job events it
waits for reach every process through the Channels layer in Redis.

runstudio builds the command here; docker compose and the Dockerfile run ``python -m
apps.embedded.web``, which reads STUDIO_WEB_PROCESSES and replaces itself with the server. No
Django here: the server imports the studio itself.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys

APP = "studio.asgi:application"


def processes_from_env() -> int:
    return int(os.environ.get("STUDIO_WEB_PROCESSES", "1"))


def command(host: str, port: int, processes: int = 1, *, proxy_headers: bool = False) -> list[str]:
    """The server's argv. ``proxy_headers``: trust X-Forwarded-For / -Proto from any peer (behind
    a proxy of your own, as in docker compose)."""
    if processes < 1:
        raise ValueError(f"web processes must be at least 1, not {processes}")
    py = sys.executable
    if processes == 1:
        return [py, "-m", "daphne", "-b", host, "-p", str(port),
                *(["--proxy-headers"] if proxy_headers else []), APP]
    return [py, "-m", "uvicorn", APP, "--host", host, "--port", str(port), "--workers", str(processes),
            "--ws", "websockets-sansio",
            # Django's ASGI app has no lifespan events; daphne logs no access lines here either.
            "--lifespan", "off", "--no-access-log",
            # Open WebSockets (job pages) would hold a shutdown; the launcher kills after 10 s.
            "--timeout-graceful-shutdown", "5",
            *(["--proxy-headers", "--forwarded-allow-ips", "*"] if proxy_headers else
              ["--no-proxy-headers"])]


def local_address(host: str) -> str:
    """Where this machine reaches a server bound to ``host`` (all interfaces: the loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def serving(host: str, port: int, timeout: float = 2.0) -> bool:
    """The server answers HTTP (any status: with several processes the port is bound before the
    workers have loaded the studio, and a bound port alone does not mean served)."""
    conn = http.client.HTTPConnection(local_address(host), port, timeout=timeout)
    try:
        conn.request("GET", "/accounts/login/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the studio's ASGI web server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--processes", type=int, default=processes_from_env(),
                        help="web processes on the port (default: STUDIO_WEB_PROCESSES, else 1)")
    parser.add_argument("--proxy-headers", action="store_true")
    args = parser.parse_args(argv)
    argv_ = command(args.host, args.port, args.processes, proxy_headers=args.proxy_headers)
    os.execv(argv_[0], argv_)


if __name__ == "__main__":
    main()
