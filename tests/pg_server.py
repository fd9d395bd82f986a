"""A PostgreSQL server of a test's own, from Debian's binaries (the postgresql package CI already
has), on a free port in a folder of its own: so that the test may stop and start it, which it must
never do to the machine's shared one.

    server = start_postgres()                    # a few seconds; raises PostgresUnavailable
    env["DATABASE_URL"] = server.url
    server.restart(down_for=2.0)                  # stopped, then started again on the same port
    server.remove()                               # stopped, and its folder gone

PostgreSQL refuses to run as root; as root (CI) the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(Exception):
    """No PostgreSQL binaries here, or the server did not start; the message says."""


def _bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()[-500:]}")

    def start(self) -> None:
        # -w: wait until it accepts connections. Only TCP on 127.0.0.1; no Unix socket to clash.
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k '' -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.data.parent, ignore_errors=True)

    def restart(self, down_for: float) -> float:
        """Stop (fast: every connection is cut), wait ``down_for`` seconds, start; seconds down."""
        t0 = time.monotonic()
        self.stop()
        time.sleep(down_for)
        self.start()
        return time.monotonic() - t0


def start_postgres() -> PostgresServer:
    """initdb and start a server in a new folder under /tmp (pytest's own temporary folders are
    root's alone, and the server may run as ``postgres``)."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable("no PostgreSQL binaries under /usr/lib/postgresql "
                                  "(apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="studio-test-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = PostgresServer(bin_dir, data, _free_port(), folder / "postgres.log")
    server._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
    server.start()
    return server
