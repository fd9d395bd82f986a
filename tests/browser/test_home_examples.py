"""The home page in a real browser: the tool cards' example pictures (made by the starter installer)
load through the real server, lazily, each above its card's title in a box of the same height."""

from __future__ import annotations

import pytest

from tests.conftest import install_starter


@pytest.fixture
def starters():  # type: ignore[no-untyped-def]
    """The real DCGAN and CycleGAN starters with their examples, installed before Playwright's event
    loop starts (Django refuses database writes inside it)."""
    return [install_starter("dcgan", "gan_face_generate", "gan-face-generate"),
            install_starter("cyclegan", "vintagify", "vintagify")]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_cards_show_their_example_pictures(starters, stack, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{stack.base_url}/accounts/signup/")
    page.fill("#id_username", "painter")
    page.fill("#id_password1", "a-long-enough-pass-42")
    page.fill("#id_password2", "a-long-enough-pass-42")
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.base_url}/")  # signed up and on the home page

    pictures = page.locator(".tool-example img")
    slugs = ["batch-images", "cyclegan", "dcgan", "train-cyclegan", "train-dcgan"]
    assert pictures.count() == len(slugs)
    for i in range(pictures.count()):
        picture = pictures.nth(i)
        assert picture.get_attribute("loading") == "lazy" and picture.get_attribute("alt")
        picture.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=picture.element_handle())
    for slug in slugs:
        card = page.locator(f'a.card.tool[href="/tools/{slug}/"]')
        box, title = card.locator(".tool-example img").bounding_box(), card.locator("h2").bounding_box()
        assert box is not None and title is not None and box["y"] + box["height"] <= title["y"]
        assert round(box["height"]) == 140  # the same box on every card (static/css/studio.css)
    faces = page.locator('a.card.tool[href="/tools/dcgan/"] .tool-example img')
    assert faces.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [266, 134]
