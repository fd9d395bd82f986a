"""The studio in a real browser: sign up, run a style job, watch it live, get the result.

STUDIO_SCREENSHOT=1 also saves the mid-run screenshot as docs/screenshot.png (the README's) and
runs a larger job so the preview is worth looking at.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.browser.helpers import content_image, fill, sign_up, submit

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_FOR_README = os.environ.get("STUDIO_SCREENSHOT") == "1"


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


def submit_style_job(page, base_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    size, steps, side = ((320, 240), 150, 256) if SCREENSHOT_FOR_README else ((160, 120), 100, 128)
    page.goto(f"{base_url}/tools/style/")
    page.set_input_files("#id_content", str(content_image(tmp_path / "content.png", size)))
    page.set_input_files("#id_style", str(style_image(tmp_path / "style.png", size)))
    fill(page, steps=steps, max_side=side)
    submit(page)


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
    for shot in (mid_run, tmp_path / "finished.png"):  # whole pages, as wide as the window
        with Image.open(shot) as image:
            assert image.format == "PNG" and image.width == 1280 and image.height >= 1000
