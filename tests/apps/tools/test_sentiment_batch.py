"""Sentiment over a CSV through the real job runner, row by row: 40 rows of which 3 cannot be scored
(empty, punctuation only, 25,000 characters) end with 37 scores and the 3 listed with their reasons,
kept in scored.csv with an error column; retrying with the rows fixed completes the 40 and keeps the
37 earlier scores as they were; a file where every row fails is refused; a cancelled batch keeps
the rows it scored (the rest "not run", retryable); only the owner retries."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.api.models import ApiToken
from apps.catalog import services as catalog
from apps.jobs.models import Job, JobFile, JobState
from apps.jobs.reporter import JobReporter
from ml.common.progress import NOT_RUN
from tests.apps.conftest import run_job
from tests.apps.tools.text_data import csv_bytes, errors, job_with_input, reviews, train_sentiment

pytestmark = pytest.mark.django_db

WORDLESS = "?! ... --"
HUGE = "word " * 5000  # 25,000 characters
BAD = {5: "", 17: WORDLESS, 30: HUGE}  # row index -> text; the rows are numbered from 2 (header 1)
REASONS = [{"row": 7, "reason": "empty text"},
           {"row": 19, "reason": "no words (only spaces or punctuation)"},
           {"row": 32, "reason": "too long: 25,000 characters (the limit is 20,000)"}]


@pytest.fixture
def sentiment_model(alice: Any) -> None:
    catalog.activate(train_sentiment(alice))


def submit(client: Client, data: bytes) -> Job:
    upload = SimpleUploadedFile("mine.csv", data, "text/csv")
    response = client.post("/tools/sentiment-batch/", {"csv": upload, "column": "text"})
    assert response.status_code == 302, errors(response.context["form"]) if response.context else response
    return Job.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])


def retry(client: Client, job: Job, data: bytes) -> Job:
    response = client.post(f"/jobs/{job.pk}/retry-failed/",
                           {"csv": SimpleUploadedFile("fixed.csv", data, "text/csv")})
    again = Job.objects.exclude(pk=job.pk).order_by("-created_at").first()
    assert again is not None and response["Location"] == f"/jobs/{again.pk}/", response
    return again


def scored(job: Job) -> list[dict[str, str]]:
    stored = job.files.get(role=JobFile.Role.RESULT, name="scored.csv")
    return list(csv.DictReader(io.StringIO(stored.file.read().decode())))


def steps(job: Job) -> list[int]:
    return [e.data["step"] for e in job.events.filter(kind="progress")]


def test_40_rows_with_3_bad_give_37_scores_then_a_retry_completes_them(
        alice: Any, alice_client: Client, sentiment_model: None) -> None:
    rows = reviews(40, seed=7)
    broken = [(BAD.get(i, text), label) for i, (text, label) in enumerate(rows)]
    job = run_job(submit(alice_client, csv_bytes(broken)))
    assert job.state == JobState.SUCCEEDED, job.error
    r = job.result
    assert (r["rows"], r["scored"], r["failed_count"]) == (40, 37, 3)
    assert r["failed"] == REASONS
    assert r["accuracy"] >= 0.8  # over the 37 scored rows
    assert steps(job)[-1] == 37
    first = scored(job)
    assert len(first) == 40 and [row["label"] for row in first] == [str(y) for _, y in rows]
    assert [i for i, row in enumerate(first) if row["error"]] == sorted(BAD)
    assert all(row["positive_probability"] == row["predicted"] == "" for row in first if row["error"])
    assert all(0.0 <= float(row["positive_probability"]) <= 1.0 for row in first if not row["error"])
    assert first[30]["text"] == HUGE  # a failed row keeps its cells
    page = alice_client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="retry-failed-form"' in page and "too long: 25,000 characters" in page

    again = retry(alice_client, job, csv_bytes(rows))
    assert again.params["continue_from"] == str(job.pk)
    again = run_job(again)
    assert again.state == JobState.SUCCEEDED, again.error
    assert (again.result["scored"], again.result["failed"], again.result["kept_from_earlier"]) == (40, [], 37)
    assert steps(again)[-1] == 3  # only the fixed rows were scored
    second = scored(again)
    assert [row["text"] for row in second] == [text for text, _ in rows]
    assert all(row["error"] == "" for row in second)
    kept = [i for i in range(40) if i not in BAD]
    assert [second[i]["positive_probability"] for i in kept] == [
        first[i]["positive_probability"] for i in kept]


def test_a_csv_where_every_row_fails_is_refused(alice: Any, alice_client: Client,
                                                sentiment_model: None) -> None:
    data = csv_bytes([("", 1), (WORDLESS, 0), (HUGE, 1)])
    response = alice_client.post("/tools/sentiment-batch/", {"csv": SimpleUploadedFile("bad.csv", data)})
    assert response.status_code == 400 and not Job.objects.filter(kind="sentiment-batch").exists()
    assert "bad.csv: no row has a text to score (row 2: empty text; row 3: no words" in errors(
        response.context["form"])
    # A job made another way (the API, a rerun) is checked again when it runs.
    job = run_job(job_with_input(alice, "sentiment-batch", "csv", "bad.csv", data, column="text"))
    assert job.state == JobState.FAILED
    assert "no row has a text to score (row 2: empty text; row 3: no words" in job.error, job.error


def test_a_cancelled_batch_keeps_its_scores_and_its_retry_scores_the_rest(
        alice: Any, alice_client: Client, sentiment_model: None, monkeypatch: Any) -> None:
    rows = reviews(600, seed=3)  # three chunks of 256
    answers = iter([False])  # the check before the first chunk says go on; the next, stop
    monkeypatch.setattr(JobReporter, "cancelled", lambda self: next(answers, True))
    job = run_job(submit(alice_client, csv_bytes(rows)))
    monkeypatch.undo()
    assert job.state == JobState.CANCELLED
    assert (job.result["scored"], job.result["not_run"], job.result["failed_count"]) == (256, 344, 344)
    partial = scored(job)
    assert len(partial) == 600 and [row["error"] for row in partial[256:]] == [NOT_RUN] * 344
    assert all(0.0 <= float(row["positive_probability"]) <= 1.0 for row in partial[:256])
    page = alice_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Download scored.csv" in page and 'id="retry-failed-form"' in page

    again = run_job(retry(alice_client, job, csv_bytes(rows)))
    assert again.state == JobState.SUCCEEDED, again.error
    r = again.result
    assert (r["scored"], r["kept_from_earlier"], r["failed"]) == (600, 256, [])


def test_only_the_owner_retries_and_only_a_batch_with_failures(
        alice: Any, alice_client: Client, bob_client: Client, sentiment_model: None) -> None:
    rows = reviews(4)
    job = run_job(submit(alice_client, csv_bytes([("", 1), *rows])))
    assert job.result["failed"] == [{"row": 2, "reason": "empty text"}]
    fixed = csv_bytes([("fine film", 1), *rows])
    response = bob_client.post(f"/jobs/{job.pk}/retry-failed/", {"csv": SimpleUploadedFile("f.csv", fixed)})
    assert response.status_code == 404
    wrong_column = alice_client.post(f"/jobs/{job.pk}/retry-failed/",
                                     {"csv": SimpleUploadedFile("f.csv", b"words\nhi\n")}, follow=True)
    shown = [str(m) for m in wrong_column.context["messages"]]  # back on the job's page, with why
    assert wrong_column.redirect_chain[-1][0] == f"/jobs/{job.pk}/" and "f.csv: no 'text' column" in shown[0]
    clean = run_job(submit(alice_client, fixed))
    assert clean.state == JobState.SUCCEEDED and clean.result["failed"] == []
    response = alice_client.post(f"/jobs/{clean.pk}/retry-failed/",
                                 {"csv": SimpleUploadedFile("f.csv", fixed)})
    assert response.status_code == 404
    assert Job.objects.filter(kind="sentiment-batch").count() == 2


def test_the_api_retries_too(alice: Any, bob: Any, alice_client: Client, sentiment_model: None) -> None:
    rows = reviews(4)
    job = run_job(submit(alice_client, csv_bytes([(WORDLESS, 1), *rows])))
    fixed = csv_bytes([("a fine film", 1), *rows])
    api = Client(headers={"Authorization": f"Bearer {ApiToken.issue(alice, 'retry')[1]}"})
    refused = api.post(f"/api/jobs/{job.pk}/retry", {"csv": SimpleUploadedFile("f.csv", b"words\nhi\n")})
    assert refused.status_code == 400 and "no 'text' column" in refused.json()["errors"]["csv"][0]
    made = api.post(f"/api/jobs/{job.pk}/retry", {"csv": SimpleUploadedFile("f.csv", fixed)})
    assert made.status_code == 201, made.content
    again = run_job(Job.objects.get(pk=made.json()["id"]))
    assert (again.result["scored"], again.result["kept_from_earlier"], again.result["failed"]) == (5, 4, [])
    done = api.post(f"/api/jobs/{again.pk}/retry", {"csv": SimpleUploadedFile("f.csv", fixed)})
    assert done.status_code == 404  # nothing failed
    other = Client(headers={"Authorization": f"Bearer {ApiToken.issue(bob, 'retry')[1]}"})
    theirs = other.post(f"/api/jobs/{job.pk}/retry", {"csv": SimpleUploadedFile("f.csv", fixed)})
    assert theirs.status_code == 404
