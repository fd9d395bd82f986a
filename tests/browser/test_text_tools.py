"""The text tools in a real browser, against the real stack (worker, daphne, Redis, PostgreSQL):
train a sentiment model from a CSV while its loss chart grows, have an admin activate the draft in
the Django admin, then score a text (its deciding words highlighted) and a whole CSV (scored.csv to
download, the histogram shown; rows that cannot be scored listed, then retried with the file
corrected); train a text generator the same way and watch generated text
appear in the page as it is written; and see a bad training CSV refused on the form, with no job."""

from __future__ import annotations

import csv
import io
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from apps.jobs.models import Job
from tests.apps.tools.text_data import austenish, csv_bytes, reviews
from tests.browser.helpers import (
    TERMINAL,
    chart_points,
    fill,
    image_loaded,
    sign_up,
    submit,
    wait_for_success,
)

if TYPE_CHECKING:
    from playwright.sync_api import FilePayload, Page

    from tests.conftest import Stack

ADMIN, ADMIN_PASSWORD = "boss", "a-long-enough-admin-pass-7"

# Records each change the job page makes to #live-text (a "text" event's chunk appended): how long
# the written text is then, the job's state on the page then, and when. Installed before any page
# script runs, so nothing streamed in is missed; the parser's own insertions (the prime) are not
# text nodes added to #live-text and are not recorded.
LIVE_TEXT_RECORDER = """
window.__liveText = [];
new MutationObserver((records) => {
  const box = document.getElementById("live-text");
  if (!box) return;
  const appended = records.some((r) => r.target === box &&
    Array.from(r.addedNodes).some((n) => n.nodeType === Node.TEXT_NODE));
  if (!appended) return;
  const state = document.getElementById("job-state");
  window.__liveText.push([box.textContent.length, state ? state.textContent.trim() : "", performance.now()]);
}).observe(document, { childList: true, subtree: true });
"""


@pytest.fixture
def admin(django_user_model: Any) -> Any:
    """A staff superuser, created before Playwright's event loop starts (Django refuses database
    writes inside it)."""
    return django_user_model.objects.create_superuser(ADMIN, password=ADMIN_PASSWORD)


def upload(name: str, data: bytes, mime: str) -> FilePayload:
    return {"name": name, "mimeType": mime, "buffer": data}


def watch_chart(page: Page, metric: str, timeout: float = 120) -> list[int]:
    """Poll the job page until the job ends; the chart's point counts seen while it was running."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while (state := page.locator("#job-state").inner_text().strip()) not in TERMINAL:
        assert time.monotonic() < deadline, f"job still {state!r} after {timeout}s"
        if state == "running":
            seen.append(chart_points(page, metric))
        time.sleep(0.05)
    assert state == "succeeded", page.locator("#job-error").inner_text()
    return seen


def assert_grew_live(seen: list[int]) -> None:
    growth = sorted({n for n in seen if n > 0})
    assert len(growth) >= 2, f"the chart did not grow while the job ran: {seen}"


def trained_draft(page: Page, name: str) -> None:
    """The finished training job's page names the new draft version (for a user without catalog
    rights: an admin can activate it)."""
    page.wait_for_selector("#trained-version")
    trained = page.locator("#trained-version").inner_text()
    assert name in trained and "(draft)" in trained and "An admin can activate it" in trained, trained


def admin_activates(page: Page, base_url: str, name: str) -> None:
    """The admin, in a browser context of their own, logs in to the Django admin, selects the
    version called ``name`` and runs the "activate" action."""
    browser = page.context.browser
    assert browser is not None
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        admin_page = context.new_page()
        admin_page.set_default_timeout(30_000)
        admin_page.goto(f"{base_url}/admin/login/?next=/admin/catalog/modelversion/")
        admin_page.fill("#id_username", ADMIN)
        admin_page.fill("#id_password", ADMIN_PASSWORD)
        admin_page.click("input[type=submit]")
        admin_page.wait_for_url(f"{base_url}/admin/catalog/modelversion/")
        row = admin_page.locator("#result_list tbody tr", has_text=name)
        assert row.count() == 1
        assert row.locator("td.field-status").inner_text().strip() == "Draft"
        row.locator("input.action-select").check()
        admin_page.select_option("select[name=action]", "activate")
        admin_page.click("button[name=index]")
        success = admin_page.locator("ul.messagelist li.success")
        success.wait_for()
        assert re.fullmatch(rf"\w+ v\d+: {re.escape(name)} is now active\.", success.inner_text().strip())
        row = admin_page.locator("#result_list tbody tr", has_text=name)
        assert row.locator("td.field-status").inner_text().strip() == "Active"
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
# admin first: it writes to the database, which Django refuses once Playwright's event loop runs.
def test_train_sentiment_activate_it_then_score_a_text_and_a_csv(admin: Any, stack: Stack,
                                                                  page: Page) -> None:
    sign_up(page, stack.base_url)

    # 1. Train a small word LSTM on texts whose labels a few words give away; the chart grows live.
    page.goto(f"{stack.base_url}/tools/train-sentiment/")
    page.set_input_files("#id_texts", upload("reviews.csv", csv_bytes(reviews(1000)), "text/csv"))
    page.select_option("#id_kind", "lstm")
    fill(page, epochs=4, batch_size=8, lr=0.01, patience=0, length=20, hidden=128, seed=1,
         name="browser reviews")
    submit(page)
    assert_grew_live(watch_chart(page, "loss"))
    trained_draft(page, "browser reviews")
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= {
        m for m in page.locator("#loss-chart polyline").evaluate_all("ls => ls.map(l => l.dataset.metric)")}
    admin_activates(page, stack.base_url, "browser reviews")

    # 2. The active model reads a negative text and highlights the words that decided it.
    page.goto(f"{stack.base_url}/tools/sentiment/")
    text = "The plot was boring and the actors were AWFUL, really dreadful."
    page.fill("#id_text", text)
    submit(page)
    wait_for_success(page)
    page.wait_for_selector("#sentiment-result")
    assert page.locator("#sentiment-label").text_content() == "negative"
    assert float(page.locator("#sentiment-probability").inner_text()) < 0.5
    assert page.locator("#highlighted").text_content() == text  # the text, cut into marks, not changed
    negative = set(page.locator("#highlighted mark.towards-negative").all_text_contents())
    assert negative & {"boring", "AWFUL,", "dreadful."}, negative
    assert page.locator("#job-model code").inner_text().startswith("sentiment/v")

    # 3. A CSV scored as a job: progress to the row count, scored.csv to download, the histogram.
    rows = reviews(40, seed=7)
    page.goto(f"{stack.base_url}/tools/sentiment-batch/")
    page.set_input_files("#id_csv", upload("mine.csv", csv_bytes(rows), "text/csv"))
    page.fill("#id_column", "text")
    submit(page)
    wait_for_success(page)
    page.reload()  # the finished page: the log replayed, the result files listed
    assert page.locator("#job-step").inner_text() == "40/40"
    assert page.eval_on_selector("#job-progress", "p => [p.value, p.max]") == [40, 40]
    page.wait_for_function("() => Array.from(document.querySelectorAll('#job-log li'))"
                           ".some(li => li.textContent.includes(' 40/40 40 of 40 texts'))")
    image_loaded(page, 'img.result-image[alt="scores.png"]')
    link = page.locator("a.download", has_text="scored.csv")
    href = link.get_attribute("href")
    assert href and href.endswith("?download=1")
    response = page.request.get(stack.base_url + href)
    assert response.ok, response.status
    scored = list(csv.DictReader(io.StringIO(response.text())))
    assert [r["text"] for r in scored] == [t for t, _ in rows]
    assert all(0.0 <= float(r["positive_probability"]) <= 1.0 for r in scored)
    right = sum((float(r["positive_probability"]) >= 0.5) == (y == 1)
                for r, (_, y) in zip(scored, rows, strict=True))
    assert right >= 32  # the giveaway words: at least 80% right

    # 3b. Rows that cannot be scored fail alone and are listed; "Retry the failed rows" with the file
    # corrected scores only those, keeping the other 38 scores.
    broken = [("" if i == 3 else "?!" if i == 9 else text, y) for i, (text, y) in enumerate(rows)]
    page.goto(f"{stack.base_url}/tools/sentiment-batch/")
    page.set_input_files("#id_csv", upload("broken.csv", csv_bytes(broken), "text/csv"))
    submit(page)
    wait_for_success(page)
    page.locator("#csv-failures").wait_for()  # the result box, refreshed when the job ended
    assert page.locator("#csv-scored").inner_text() == "38"
    assert page.locator("#csv-failures td").all_inner_texts() == [
        "5", "empty text", "11", "no words (only spaces or punctuation)"]
    first = page.url.rstrip("/").rsplit("/", 1)[-1]
    page.set_input_files("#retry-csv", upload("fixed.csv", csv_bytes(rows), "text/csv"))
    page.click("#retry-failed")
    page.wait_for_url(re.compile(rf"/jobs/(?!{first})[0-9a-f-]{{36}}/$"))
    wait_for_success(page)
    page.locator("#csv-batch-result").wait_for()
    assert page.locator("#csv-scored").inner_text() == "40"
    assert "38 kept from the earlier job" in page.locator("#csv-batch-result").inner_text()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_train_a_text_generator_activate_it_and_watch_it_write(admin: Any, stack: Stack, page: Page) -> None:
    sign_up(page, stack.base_url)

    # 4a. A dry-run char-RNN on a few thousand characters of a small vocabulary; the chart grows live.
    page.goto(f"{stack.base_url}/tools/train-textgen/")
    page.set_input_files("#id_text", upload("austenish.txt", austenish(4000), "text/plain"))
    fill(page, epochs=8, sample_prime="it is ", seed=2, name="browser austen")
    page.check("#id_dry_run")
    submit(page)
    assert_grew_live(watch_chart(page, "loss"))
    trained_draft(page, "browser austen")
    admin_activates(page, stack.base_url, "browser austen")

    # 4b. The text appears while it is written, a chunk at a time, then the whole text as the result.
    prime, length = "it is a ", 5000
    page.add_init_script(LIVE_TEXT_RECORDER)
    page.goto(f"{stack.base_url}/tools/textgen/")
    fill(page, prime=prime, length=length, seed=5)
    submit(page)
    wait_for_success(page, timeout=60)
    page.wait_for_selector("#generated-text")
    generated = page.locator("#generated-text").text_content() or ""
    assert generated.startswith(prime) and len(generated) == len(prime) + length
    assert page.locator("#live-text").text_content() == generated  # what streamed is what was written
    assert page.locator("#live-text-box").is_hidden()  # the result box shows it now
    log = page.evaluate("() => window.__liveText")
    running = [(n, t) for n, state, t in log if state == "running"]
    assert len(running) >= 2, f"no text appeared while the job was running: {log}"
    assert [n for n, _ in running] == sorted({n for n, _ in running})  # growing, chunk after chunk
    # (Chunks leave the worker every 0.1 s; how many arrive depends on the machine's speed, so the
    # test asks only for two while running, not for a duration.)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_bad_training_csv_is_refused_on_the_form_and_queues_nothing(stack: Stack, page: Page) -> None:
    sign_up(page, stack.base_url)
    page.goto(f"{stack.base_url}/tools/train-sentiment/")
    page.set_input_files("#id_texts", upload("labels.csv", b"text,label\nnice,1\nmeh,maybe\n", "text/csv"))
    page.check("#id_dry_run")
    with page.expect_navigation():
        page.click("#submit")
    assert page.url == f"{stack.base_url}/tools/train-sentiment/"
    error = page.locator(".field.has-error .error")
    assert error.count() == 1
    assert "labels.csv: row 3: label 'maybe' is not binary" in error.inner_text()
    # Django refuses the ORM inside Playwright's event loop: ask from another thread.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(Job.objects.count).result() == 0
