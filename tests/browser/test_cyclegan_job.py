"""The CycleGAN tool in a real browser: upload a photo, wait for the job, see and download the result."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.catalog.models import ModelVersion
from ml.common.sample_scene import sample_scene
from tests.browser.helpers import image_loaded, sign_up, submit, wait_for_success
from tests.conftest import install_starter


@pytest.fixture
def vintagify() -> ModelVersion:
    return install_starter("cyclegan", "vintagify", "vintagify")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
# vintagify first: it writes to the database, which Django refuses once Playwright's event loop runs.
def test_it_translates_a_photo_in_the_browser(vintagify, stack, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    photo = tmp_path / "photo.png"
    sample_scene((160, 120)).save(photo)
    sign_up(page, stack.base_url)
    page.goto(f"{stack.base_url}/tools/cyclegan/")
    assert "B to A is not offered" in page.content()
    page.set_input_files("#id_photo", str(photo))
    page.fill("#id_max_side", "128")
    page.select_option("#id_tile", "auto")
    submit(page)

    wait_for_success(page, timeout=180)
    image_loaded(page, ".result-image")
    size = page.eval_on_selector(".result-image", "img => [img.naturalWidth, img.naturalHeight]")
    assert size == [128, 96]
    download = page.locator("a.download")
    assert "download=1" in download.get_attribute("href")
    assert "translated.png" in download.inner_text()
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == "translated.png"
    page.reload()  # the finished page names the model version and its licence
    assert vintagify.label in page.locator("#job-model").inner_text()
    assert "MIT" in page.locator("#job-model").inner_text()
