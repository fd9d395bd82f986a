"""The studio in a real browser: sign up, run a style job, watch it live, get the result.

STUDIO_SCREENSHOT=1 also saves the mid-run screenshot as docs/screenshot.png (the README's) and
runs a larger job so the preview is worth looking at.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_FOR_README = os.environ.get("STUDIO_SCREENSHOT") == "1"


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


def style_image(path: Path, size: tuple[int, int]) -> Path:
    """A bold texture: coloured diagonal stripes crossed by rings."""
    w, h = size
    img = Image.new("RGB", size, (20, 20, 40))
    draw = ImageDraw.Draw(img)
    colours = [(230, 57, 70), (241, 196, 15), (29, 53, 87), (69, 123, 157), (168, 218, 220)]
    for i, x in enumerate(range(-h, w, 12)):
        draw.line([(x, h), (x + h, 0)], fill=colours[i % len(colours)], width=7)
    for r in range(8, max(w, h), 18):
        draw.ellipse([w / 2 - r, h / 2 - r, w / 2 + r, h / 2 + r], outline=(250, 250, 250), width=2)
    img.save(path)
    return path


def sign_up(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/accounts/signup/")
    page.fill("#id_username", "painter")
    page.fill("#id_password1", "a-long-enough-pass-42")
    page.fill("#id_password2", "a-long-enough-pass-42")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    assert page.locator(".topbar .who").inner_text() == "painter"


def submit_style_job(page, base_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    size, steps, side = ((320, 240), 150, 256) if SCREENSHOT_FOR_README else ((160, 120), 100, 128)
    page.goto(f"{base_url}/tools/style/")
    page.set_input_files("#id_content", str(content_image(tmp_path / "content.png", size)))
    page.set_input_files("#id_style", str(style_image(tmp_path / "style.png", size)))
    page.fill("#id_steps", str(steps))
    page.fill("#id_max_side", str(side))
    page.click("#submit")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))


def watch_until_done(page, mid_run_shot: Path, shot_at: float, timeout: float = 240) -> list[float]:  # type: ignore[no-untyped-def]
    """Poll the live page; return the distinct progress values seen. Screenshot once mid-run, when
    a preview is showing and the bar has moved (and passed `shot_at`, a fraction of the total)."""
    seen: list[float] = []
    shot = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = page.locator("#job-state").inner_text().strip()
        value, top = page.eval_on_selector("#job-progress", "el => [el.value, el.max]")
        if not seen or value != seen[-1]:
            seen.append(value)
        preview = page.eval_on_selector("#job-preview", "el => !el.hidden && !!el.getAttribute('src')")
        if not shot and state == "running" and preview and len(seen) >= 3 and value >= shot_at * top:
            page.screenshot(path=str(mid_run_shot), full_page=True)
            shot = True
        if state in ("succeeded", "failed", "cancelled"):
            assert state == "succeeded", page.locator("#job-error").inner_text()
            assert shot, f"no mid-run view with a preview (progress seen: {seen})"
            return seen
        time.sleep(0.1)
    raise AssertionError(f"job still {state!r} after {timeout}s; progress seen: {seen}")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
# style_model first: it writes to the database, which Django refuses once Playwright's event loop runs.
def test_it_runs_a_style_job_live_in_the_browser(style_model, stack, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    static = {}
    page.on("response", lambda r: static.__setitem__(r.url.rsplit("/", 1)[-1], r.status)
            if "/static/" in r.url else None)
    sign_up(page, stack.base_url)
    submit_style_job(page, stack.base_url, tmp_path)
    assert static.get("studio.css") == 200 and static.get("job.js") == 200, static

    mid_run = ROOT / "docs" / "screenshot.png" if SCREENSHOT_FOR_README else tmp_path / "mid-run.png"
    mid_run.parent.mkdir(exist_ok=True)
    seen = watch_until_done(page, mid_run, shot_at=0.6 if SCREENSHOT_FOR_README else 0.0)
    print(f"progress values seen: {seen}")
    rises = sum(1 for a, b in itertools.pairwise(seen) if b > a)
    assert rises >= 2, f"progress bar moved only {rises} times: {seen}"
    assert "/files/" in page.get_attribute("#job-preview", "src")
    assert page.eval_on_selector("#job-preview", "el => el.naturalWidth") > 0

    page.wait_for_function(
        "() => { const img = document.querySelector('.result-image');"
        " return img && img.complete && img.naturalWidth > 0; }")
    download = page.locator("a.download")
    assert "download=1" in download.get_attribute("href")
    assert "stylized.png" in download.inner_text()
    page.reload()  # the finished page names the model version the job ran with
    assert style_model.label in page.locator("#job-model").inner_text()
    page.screenshot(path=str(tmp_path / "finished.png"), full_page=True)
    assert mid_run.stat().st_size > 0 and (tmp_path / "finished.png").stat().st_size > 0
