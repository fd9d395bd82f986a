"""DCGAN training in a real browser, against the real stack (worker, daphne, Redis, PostgreSQL):
upload a zip, watch the loss chart grow and previews arrive, cancel, resume from the checkpoint in a
new job, and end with a draft model version named on the page and the result files downloadable."""

from __future__ import annotations

import io
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from apps.catalog.models import ModelVersion
from tests.browser.helpers import JOB_URL, chart_points, fill, image_loaded, sign_up, submit, wait_for_success


def shapes_zip(path: Path, n: int = 16) -> Path:
    """Circles and squares on plain backgrounds: something a tiny GAN can start to learn."""
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(n):
            img = Image.new("RGB", (48, 40), (20 * i % 255, 60, 120))
            draw = ImageDraw.Draw(img)
            box = (8 + i % 5, 6, 36, 34)
            (draw.ellipse if i % 2 else draw.rectangle)(box, fill=(240, 200 - 8 * i, 40))
            buffer = io.BytesIO()
            img.save(buffer, format="PNG")
            archive.writestr(f"shapes/{i:02d}.png", buffer.getvalue())
    return path


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_train_watch_cancel_resume_and_get_a_draft_version(stack, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sign_up(page, stack.base_url)
    page.goto(f"{stack.base_url}/tools/train-dcgan/")
    page.set_input_files("#id_images", str(shapes_zip(tmp_path / "shapes.zip")))
    page.select_option("#id_image_size", "32")
    # 4 steps an epoch: 160 steps, a report every 10.
    fill(page, epochs=40, batch_size=4, ngf=16, ndf=16, sample_every=20, name="browser shapes")
    submit(page)
    first_url = page.url

    # The chart appears with the first report and grows while the job runs.
    page.wait_for_selector("#loss-chart polyline[data-metric=loss_d]", timeout=90_000)
    page.wait_for_function("() => document.querySelector('#loss-chart polyline[data-metric=loss_d]')"
                           ".getAttribute('points').trim().split(' ').length >= 3", timeout=90_000)
    assert page.locator("#job-state").inner_text().strip() == "running"
    assert page.locator(".chart-legend .legend-item").count() == 4
    image_loaded(page, "#job-preview")
    page.click("#cancel")
    deadline = time.monotonic() + 60
    while page.locator("#job-state").inner_text().strip() != "cancelled":
        assert time.monotonic() < deadline, "the training did not stop"
        time.sleep(0.2)
    stopped_at = chart_points(page, "loss_d")

    page.reload()  # the finished page replays the history into the chart and offers to resume
    page.wait_for_function(
        f"() => {{ const l = document.querySelector('#loss-chart polyline');"
        f" return l && l.getAttribute('points').trim().split(' ').length >= {stopped_at}; }}")
    page.click("#resume")
    page.wait_for_url(JOB_URL)
    assert page.url != first_url
    wait_for_success(page, timeout=300)
    page.reload()
    page.screenshot(path=str(tmp_path / "training-job.png"), full_page=True)
    # The new job's chart shows the whole training: the first job's points, then its own.
    page.wait_for_function("() => document.querySelector('#loss-chart polyline[data-metric=loss_d]')"
                           ".getAttribute('points').trim().split(' ').length === 16")
    trained = page.locator("#trained-version").inner_text()
    assert "browser shapes" in trained and "draft" in trained
    image_loaded(page, 'img.result-image[alt="samples.png"]')
    image_loaded(page, 'img.result-image[alt="loss-chart.png"]')
    names = [t.strip() for t in page.locator("a.download").all_inner_texts()]
    assert any(n.endswith(".pt") for n in names) and "Download history.json" in names
    assert "'resumed_from': " in page.locator("#results details pre").text_content()

    # Django refuses the ORM inside Playwright's event loop: ask from another thread.
    with ThreadPoolExecutor(1) as pool:
        version = pool.submit(ModelVersion.objects.get, family="dcgan", name="browser shapes").result()
    assert (version.status, version.validation, version.source) == ("draft", "valid", "trained")
    assert version.metrics["steps"] == 160
