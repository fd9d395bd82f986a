"""Fast style in a real browser: sign up, pick a style by clicking its preview (or blend two),
upload a photo, run it, and get the result image and its download link."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.tools.lineage import read_lineage
from tests.apps.tools.fast_style_starter import GLOW, STARRY, install_fast_style_starter
from tests.browser.helpers import content_image, sign_up, submit, wait_for_success

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fast_style_model():  # type: ignore[no-untyped-def]
    # Before `page` in each test's signature: Django refuses database writes once Playwright's
    # event loop runs.
    return install_fast_style_starter()


def open_tool(page, base_url: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Sign up and open the fast style page; returns the static files' statuses as they load."""
    static: dict[str, int] = {}
    page.on("response", lambda r: static.__setitem__(r.url.rsplit("/", 1)[-1], r.status)
            if "/static/" in r.url else None)
    sign_up(page, base_url)
    page.goto(f"{base_url}/tools/fast-style/")
    assert page.locator(".style-pick").count() == 26
    page.wait_for_function(  # every preview really loaded (they are the picker)
        "() => [...document.querySelectorAll('.style-pick img')]"
        ".every(i => i.complete && i.naturalWidth > 0)")
    return static


def pick(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.click(f'.style-pick[data-style="{name}"]')


def pressed(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all('.style-pick[aria-pressed="true"]',
                                     "els => els.map(e => e.dataset.style)")


def run_and_wait(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.set_input_files("#id_photo", str(content_image(tmp_path / "photo.png", (200, 150))))
    page.fill("#id_max_side", "160")
    submit(page)
    wait_for_success(page)


def check_result(page, base_url: str, version) -> dict:  # type: ignore[no-untyped-def]
    """The result image shows, the download link works, and the PNG names the model; its record."""
    page.wait_for_function(
        "() => { const img = document.querySelector('.result-image');"
        " return img && img.complete && img.naturalWidth === 160 && img.naturalHeight === 120; }")
    assert "/files/" in page.get_attribute("#job-preview", "src")
    link = page.locator("a.download")
    href = link.get_attribute("href")
    assert "download=1" in href and "fast-style.png" in link.inner_text()
    response = page.request.get(base_url + href)  # with the page's session cookie
    assert response.status == 200 and "attachment" in response.headers["content-disposition"]
    record = read_lineage(response.body())
    assert record["model"]["sha256"] == version.sha256
    page.reload()  # the finished page names the model version the job ran with
    assert version.label in page.locator("#job-model").inner_text()
    return record


def test_it_runs_a_preset_picked_by_its_preview(fast_style_model, stack, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    static = open_tool(page, stack.base_url)
    assert static.get("fast_style.js") == 200 and static.get("studio.css") == 200, static
    assert pressed(page) == [fast_style_model.config["styles"][0]]  # the select's first style

    pick(page, STARRY)

    assert page.input_value("#id_style") == STARRY and page.input_value("#id_blend") == ""
    assert pressed(page) == [STARRY]
    run_and_wait(page, tmp_path)
    record = check_result(page, stack.base_url, fast_style_model)
    assert record["params"]["styles"] == {STARRY: 1.0}
    page.screenshot(path=str(tmp_path / "preset.png"), full_page=True)


def test_it_runs_a_blend_of_two_clicked_styles(fast_style_model, stack, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    open_tool(page, stack.base_url)
    page.check("#blend-mode")
    assert pressed(page) == [] and page.input_value("#id_style") == ""
    pick(page, STARRY)
    pick(page, GLOW)
    pick(page, "grey charcoal")
    pick(page, "grey charcoal")  # a second click takes it out again

    assert page.input_value("#id_style") == ""
    assert page.input_value("#id_blend") == f"{STARRY}=1, {GLOW}=1"
    assert pressed(page) == [GLOW, STARRY]  # in the picker's (the network's) order
    page.fill("#id_blend", f"{STARRY}=3, {GLOW}=1")
    page.dispatch_event("#id_blend", "input")
    shares = page.eval_on_selector_all(".style-share:not([hidden])", "els => els.map(e => e.textContent)")
    assert sorted(shares) == ["25 %", "75 %"]
    page.screenshot(path=str(tmp_path / "picker.png"), full_page=True)

    run_and_wait(page, tmp_path)
    record = check_result(page, stack.base_url, fast_style_model)
    assert record["params"] == {"styles": {STARRY: 3.0, GLOW: 1.0}, "max_side": 160, "preserve_colors": False}
