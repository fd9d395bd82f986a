"""Child processes of the one-command run: started in their own process groups (so Ctrl-C reaches
only the launcher, which stops them in order), their output relayed line by line with a prefix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

_print_lock = threading.Lock()

# Lines that read as trouble to a new user but do not apply here: dropped (None), or replaced by one
# line that says why they are harmless.
NOTES: dict[str, str | None] = {
    # daphne: HTTP/2 comes only with TLS; the studio serves HTTP/1.1 and WebSockets (a TLS proxy in
    # front of it may speak HTTP/2 to browsers).
    "HTTP/2 support not enabled": None,
    "WARNING Memory overcommit must be enabled": (
        "vm.overcommit_memory is 0 on this machine: harmless here, the embedded Redis keeps nothing "
        "on disk and so never forks to save"),
}


def relayed(line: str) -> str | None:
    """The line as shown: itself, its note, or None to drop it."""
    for text, note in NOTES.items():
        if text in line:
            return note
    return line


def say(prefix: str, line: str) -> None:
    with _print_lock:
        sys.stdout.write(f"{prefix:<8}| {line.rstrip()}\n")
        sys.stdout.flush()


class Child:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, text=True, errors="replace", bufsize=1)
        self._relay = threading.Thread(target=self._pump, name=f"relay-{name}", daemon=True)
        self._relay.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            shown = relayed(line)
            if shown is not None:
                say(self.name, shown)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def stop(self, grace: float, sig: int = signal.SIGTERM,
             polite: Callable[[], None] | None = None) -> int:
        """Ask nicely (`polite()` or `sig`), wait up to `grace` seconds, then kill the whole group."""
        if self.running():
            try:
                polite() if polite else os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, OSError):
                pass
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                say(self.name, f"did not stop within {grace:.0f} s; killing it")
        # The group may still hold children (Celery's pool) even after the leader exited.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        code = self.proc.wait()
        self._relay.join(2)
        return code


def wait_until(check: Callable[[], bool], timeout: float, alive: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if not alive():
            return False
        time.sleep(0.2)
    return False
