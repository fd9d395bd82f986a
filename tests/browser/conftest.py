"""Browser tests: Chromium from the system (/usr/bin/chromium), and static files for the stack.

The stack's daphne runs with DEBUG off, so WhiteNoise serves static files only from STATIC_ROOT,
scanned once when the server starts. Collect them after collection, before any test starts a
server, so the job page gets its CSS and job.js.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def pytest_collection_finish(session: pytest.Session) -> None:
    if any(item.get_closest_marker("browser") for item in session.items):
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The system Chromium; missing is a failure in CI (which installs it) and a skip elsewhere."""
    if not CHROMIUM.is_file():
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
def page(chromium, stack, tmp_path):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
