"""What the browser tests share: signing up, a picture to upload, submitting a tool's form and
waiting for its job, a result image that really loaded, the loss chart's points."""

from __future__ import annotations

import re
import time
from pathlib import Path

from PIL import Image, ImageDraw

JOB_URL = re.compile(r"/jobs/[0-9a-f-]{36}/$")
TERMINAL = ("succeeded", "failed", "cancelled")


def fill(page, **fields: object) -> None:  # type: ignore[no-untyped-def]
    """Type each value into the form's field of that name (the input ``#id_<name>``)."""
    for name, value in fields.items():
        page.fill(f"#id_{name}", str(value))


def sign_up(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/accounts/signup/")
    fill(page, username="painter", password1="a-long-enough-pass-42", password2="a-long-enough-pass-42")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    assert page.locator(".topbar .who").inner_text() == "painter"


def content_image(path: Path, size: tuple[int, int]) -> Path:
    """A small landscape: sky gradient, sun, two hills, a house."""
    w, h = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for y in range(h):
        draw.line([(0, y), (w, y)], fill=(90 + y * 100 // h, 150 + y * 60 // h, 235))
    draw.ellipse([w * 0.70, h * 0.10, w * 0.85, h * 0.30], fill=(255, 214, 80))
    draw.polygon([(0, h), (0, h * 0.60), (w * 0.40, h * 0.45), (w * 0.80, h), ], fill=(60, 140, 70))
    draw.polygon([(w * 0.3, h), (w * 0.75, h * 0.55), (w, h * 0.65), (w, h)], fill=(40, 110, 60))
    draw.rectangle([w * 0.18, h * 0.62, w * 0.34, h * 0.82], fill=(200, 60, 50))
    draw.polygon([(w * 0.16, h * 0.63), (w * 0.26, h * 0.50), (w * 0.36, h * 0.63)], fill=(90, 50, 40))
    img.save(path)
    return path


def submit(page) -> None:  # type: ignore[no-untyped-def]
    """Submit the tool's form and land on the new job's page."""
    page.click("#submit")
    page.wait_for_url(JOB_URL)


def wait_for_success(page, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Watch the job page until the job ends, which must be a success."""
    deadline = time.monotonic() + timeout
    while (state := page.locator("#job-state").inner_text().strip()) not in TERMINAL:
        assert time.monotonic() < deadline, f"job still {state!r} after {timeout}s"
        time.sleep(0.1)
    assert state == "succeeded", page.locator("#job-error").inner_text()


def image_loaded(page, selector: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(
        "(sel) => { const img = document.querySelector(sel);"
        " return img && img.complete && img.naturalWidth > 0; }", arg=selector)


def chart_points(page, metric: str) -> int:  # type: ignore[no-untyped-def]
    """How many points the job page's loss chart has for ``metric`` (0 before it is drawn)."""
    return page.evaluate(
        "(m) => { const l = document.querySelector(`#loss-chart polyline[data-metric=${m}]`);"
        " return l ? l.getAttribute('points').trim().split(' ').length : 0; }", metric)
