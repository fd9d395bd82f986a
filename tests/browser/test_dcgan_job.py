"""The DCGAN tool in a real browser: a seeded grid job and a latent walk with a GIF, each watched to
success, with the result images loaded and their download links there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.helpers import fill, image_loaded, sign_up, submit, wait_for_success
from tests.conftest import install_starter


@pytest.fixture
def faces():  # type: ignore[no-untyped-def]
    """The real starter faces generator, installed before Playwright's event loop starts (Django
    refuses database writes inside it)."""
    return install_starter("dcgan", "gan_face_generate", "gan-face-generate")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
# faces first: it writes to the database, which Django refuses once Playwright's event loop runs.
def test_it_runs_a_grid_and_a_latent_walk_in_the_browser(faces, stack, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sign_up(page, stack.base_url)
    page.goto(f"{stack.base_url}/tools/dcgan/")
    assert "research/demo output" in page.locator("main").inner_text()
    page.select_option("#id_mode", "grid")
    fill(page, n=16, seed=42)
    submit(page)
    wait_for_success(page)

    image_loaded(page, 'img.result-image[alt="grid.png"]')
    image_loaded(page, 'img.result-image[alt="sample-015.png"]')
    assert page.eval_on_selector('img[alt="grid.png"]', "el => el.naturalWidth") == 2 + 4 * 66
    links = page.locator("a.download")
    assert links.count() == 17
    assert "download=1" in links.first.get_attribute("href") and "grid.png" in links.first.inner_text()
    # The single samples sit side by side in the compact gallery (static/css/studio.css).
    boxes = [page.locator(f'img[alt="sample-00{i}.png"]').bounding_box() for i in (0, 1)]
    assert boxes[0]["y"] == boxes[1]["y"] and boxes[1]["x"] > boxes[0]["x"]
    page.reload()  # the finished page names the model and its licence
    assert faces.label in page.locator("#job-model").inner_text()
    assert "Research" in page.locator("#job-model").inner_text()
    page.screenshot(path=str(tmp_path / "grid-job.png"), full_page=True)

    page.goto(f"{stack.base_url}/tools/dcgan/")
    page.select_option("#id_mode", "walk")
    fill(page, seed_a=3, seed_b=11, steps=6)
    page.check("#id_gif")
    submit(page)
    wait_for_success(page)
    image_loaded(page, 'img.result-image[alt="walk-strip.png"]')
    image_loaded(page, 'img.result-image[alt="walk.gif"]')
    assert page.eval_on_selector('img[alt="walk.gif"]', "el => el.naturalWidth") == 128
    names = [text.strip() for text in page.locator("a.download").all_inner_texts()]
    assert names == ["Download walk-strip.png", "Download walk.gif"]
    page.screenshot(path=str(tmp_path / "walk-job.png"), full_page=True)
