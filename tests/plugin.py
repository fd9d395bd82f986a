"""How the suite is split, loaded before Django (``-p tests.plugin`` in pytest.ini).

Four kinds of test, told apart by folder:
- ``integration`` (tests/integration): real Redis, PostgreSQL, Celery worker processes, daphne and
  WebSockets, and the processes of the one-command run;
- ``browser`` (tests/browser): real Chromium driving the running studio;
- ``fleet`` (tests/fleet): the studio as a fleet on this machine (web processes, workers with no
  shared disk, S3, its own Redis restarted, a worker killed for good); two minutes;
- ``unit`` (everything else): no services; the database is SQLite in memory. A test
  among them that starts a Python process of the studio (a subprocess migrate, validation's child)
  is marked ``integration`` itself, and runs with those; one that trains a real starter to its
  promised held-out figure is marked ``training`` (scripts/test.sh runs it with the integration tests).

A run that can reach an integration or browser test uses PostgreSQL (their worker and web processes
must share the test database); any other run, ``pytest -m unit`` or ``pytest tests/ml`` say, uses
SQLite and needs no service at all. An explicit DATABASE_URL always wins.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression

TESTS = Path(__file__).resolve().parent
SERVICE_KINDS = {"integration": TESTS / "integration", "browser": TESTS / "browser", "fleet": TESTS / "fleet"}
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
SQLITE_URL = "sqlite://:memory:"


def kind_of(path: Path) -> str:
    """The marker of the test file at ``path``: its folder decides."""
    for kind, folder in SERVICE_KINDS.items():
        if path.is_relative_to(folder):
            return kind
    return "unit"


def _reaches(folder: Path, paths: list[Path]) -> bool:
    """Whether collecting ``paths`` can collect a test under ``folder``."""
    return any(folder.is_relative_to(p) or p.is_relative_to(folder) for p in paths)


def needs_services(markexpr: str, paths: list[Path]) -> bool:
    """Whether a run over ``paths`` selected by ``-m markexpr`` can reach an integration or browser
    test (and so needs the shared PostgreSQL database)."""
    selected = Expression.compile(markexpr) if markexpr else None
    for kind, folder in SERVICE_KINDS.items():
        marked = selected is None or selected.evaluate(lambda name, kind=kind: name == kind)
        if marked and _reaches(folder, paths):
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    # Runs before pytest-django reads the settings (tests/settings.py), which read DATABASE_URL.
    if "DATABASE_URL" in os.environ:
        return
    options = parser.parse_known_args(args)
    named = [Path(a.split("::")[0]).resolve() for a in options.file_or_dir or []]
    paths = named or [Path(early_config.rootpath, p).resolve() for p in early_config.getini("testpaths")]
    os.environ["DATABASE_URL"] = POSTGRES_URL if needs_services(options.markexpr, paths) else SQLITE_URL


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Before -m deselects: every test gets the marker of its folder, unless it is marked with a kind
    # itself: a test beside the unit tests that starts a studio process is marked integration, one
    # that trains a real starter to its promised figure (a minute or more) is marked training.
    for item in items:
        if not any(item.get_closest_marker(kind) for kind in (*SERVICE_KINDS, "training")):
            item.add_marker(kind_of(Path(item.path)))


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which counts the CPUs
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pytest.ini): every run spreads over two processes. Each process of a run that
    reaches the service tests has its own test database (pytest-django), Redis database and var
    folder (tests/settings.py), so their workers and web servers never meet; those tests spend much
    of their time waiting on processes they started, which the other process fills."""
    return min(2, os.cpu_count() or 1)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        # An xdist worker has one core of its own: torch's own threads would only wait on each other.
        import torch

        torch.set_num_threads(1)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The one-line summaries that tests record (``record_property("summary", ...)``: what the fleet
    tests saw), shown at the end of a run; they come back from xdist workers with the reports."""
    lines = [str(value) for kind in ("passed", "failed") for report in terminalreporter.getreports(kind)
             for name, value in report.user_properties if name == "summary"]
    if lines:
        terminalreporter.section("summaries")
        for line in lines:
            terminalreporter.line(line)
