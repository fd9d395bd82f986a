"""The text tools through the real job runner: sentiment training (dry run and a real bag of words)
ends in a draft version with its test report; once active, the sentiment tool highlights the words
that decided a text and the batch tool scores a CSV; text-generation training ends in a draft that,
once active, writes text streamed as "text" events. Bad input is refused with a clear message before
anything is queued."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.catalog import services as catalog
from apps.catalog.models import ModelVersion
from apps.jobs import services
from apps.jobs.models import Job, JobFile, JobState
from apps.tools.sentiment import SentimentForm
from apps.tools.sentiment_batch import SentimentBatchForm
from apps.tools.textgen import TextgenForm
from apps.tools.train_sentiment import TrainSentimentForm
from apps.tools.train_textgen import TrainTextgenForm, TrainTextgenTool
from tests.apps.conftest import make_job, run_job, stop_after_reports
from tests.apps.tools.text_data import austenish, csv_bytes, errors, job_with_input, reviews, train_sentiment

pytestmark = pytest.mark.django_db


# --- sentiment ---------------------------------------------------------------------------------------


def test_a_sentiment_training_job_ends_in_a_draft_with_its_test_report(alice: Any) -> None:
    version = train_sentiment(alice)
    assert (version.family, version.status, version.validation) == ("sentiment", "draft", "valid")
    assert version.source == ModelVersion.Source.TRAINED
    for key in ("test_accuracy", "test_precision", "test_recall", "test_roc_auc", "texts", "steps"):
        assert key in version.metrics, version.metrics
    assert version.metrics["test_accuracy"] >= 0.8  # the words give the label away
    assert "confusion" in version.description and "ROC AUC" in version.description
    assert version.previews.count() == 1  # the ROC curve
    # Its drift baseline, from the validation texts, is on the version (apps/catalog/drift.py).
    assert set(version.baseline["features"]) == {"length", "oov"} and version.baseline["n"] > 0
    assert 0 <= version.baseline["positive"] <= 1
    job = Job.objects.get(kind="train-sentiment")
    charted = [e.data["metrics"] for e in job.events.filter(kind="progress") if "metrics" in e.data]
    assert any("val_accuracy" in m for m in charted) and any("loss" in m for m in charted)
    names = set(job.files.filter(role=JobFile.Role.RESULT).values_list("name", flat=True))
    assert {"roc-curve.png", "loss-chart.png", "history.json"} <= names


def test_the_sentiment_tool_highlights_the_words_that_decided(alice: Any, client: Client) -> None:
    catalog.activate(train_sentiment(alice))
    text = "The plot was boring and the actors were AWFUL, really dreadful."
    job = run_job(make_job(alice, kind="sentiment", params={"text": text}))
    assert job.state == JobState.SUCCEEDED, job.error
    r = job.result
    assert r["label"] == "negative" and r["probability"] < 0.5
    assert "".join(piece for piece, _, _ in r["segments"]) == text  # the text, cut, not changed
    weights = {piece: w for piece, w, _ in r["segments"] if w is not None}
    assert weights["AWFUL,"] < 0 and weights["boring"] < 0  # pushed towards negative
    assert {w for w, _ in r["top_words"]} & {"awful", "boring", "dreadful"}
    client.force_login(alice)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'class="towards-negative"' in page and ">AWFUL,</mark>" in page


def test_the_sentiment_form_refuses_empty_wordless_and_huge_texts() -> None:
    assert errors(SentimentForm(data={"text": "   "})) == "This field is required."
    wordless = errors(SentimentForm(data={"text": "?! ... --"}))
    assert wordless == "The text has no words (only spaces or punctuation)."
    huge = errors(SentimentForm(data={"text": "word " * 5000}))  # 24,999 characters once stripped
    assert huge == "Ensure this value has at most 20000 characters (it has 24999)."


def test_a_csv_is_scored_as_a_job_with_a_score_column(alice: Any) -> None:
    catalog.activate(train_sentiment(alice))
    rows = reviews(40, seed=7)
    data = csv_bytes([(t, y) for t, y in rows], header=("text", "label"))
    job = run_job(job_with_input(alice, "sentiment-batch", "csv", "mine.csv", data, column="text"))
    assert job.state == JobState.SUCCEEDED, job.error
    scored = job.files.get(role=JobFile.Role.RESULT, name="scored.csv")
    out = list(csv.DictReader(io.StringIO(scored.file.read().decode())))
    assert len(out) == 40
    assert [r["text"] for r in out] == [t for t, _ in rows]  # same order, columns kept
    assert all(0.0 <= float(r["positive_probability"]) <= 1.0 for r in out)
    assert job.result["rows"] == 40 and job.result["accuracy"] >= 0.8
    progress = [e.data for e in job.events.filter(kind="progress")]
    assert progress[-1]["step"] == 40
    assert job.files.filter(role=JobFile.Role.RESULT, name="scores.png").exists()


def test_the_batch_form_takes_a_csv_with_some_rows_that_cannot_be_scored() -> None:
    data = b"id,text\n1,fine\n2,\n3,?!\n"  # the job scores row 2 and lists rows 3 and 4
    form = SentimentBatchForm(data={"column": "text"}, files={"csv": SimpleUploadedFile("x.csv", data)})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["column"] == "text" and form.cleaned_data["csv"].read() == data


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The submitted file is empty."),
    (b"words,label\nhello,1\n", "x.csv: no 'text' column"),
    (b"text,label\n", "x.csv: the file has a header but no rows"),
    (b"text\n\xff\xfe bad\n", "x.csv: the file is not UTF-8 text: invalid bytes on line 2"),
    (b"id,text\n1,\n2,?!\n", "x.csv: no row has a text to score (row 2: empty text; row 3: no words"),
])
def test_the_batch_form_refuses_bad_csvs(data: bytes, message: str) -> None:
    form = SentimentBatchForm(data={"column": "text"}, files={"csv": SimpleUploadedFile("x.csv", data)})
    assert not form.is_valid()
    assert message in errors(form), form.errors


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The submitted file is empty."),
    (b"text\nonly texts\n", "x.csv: missing column: label"),
    (b"text,label\nnice,1\nmeh,maybe\n", "x.csv: row 3: label 'maybe' is not binary"),
    (b"text,label\nnice,1\nbad,\n", "x.csv: row 3: the label is missing"),
    (b"text,label\n\xc3\x28,1\n", "x.csv: the file is not UTF-8 text: invalid bytes on line 2"),
    (b"text,label\n" + b"x,1\n" * 100_000, "too many rows: 100,000"),
])
def test_the_sentiment_training_form_refuses_bad_csvs(data: bytes, message: str) -> None:
    form = TrainSentimentForm(data={}, files={"texts": SimpleUploadedFile("x.csv", data)})
    assert not form.is_valid()
    assert message in errors(form), form.errors


# --- text generation -----------------------------------------------------------------------------------


def train_textgen(owner: Any) -> ModelVersion:
    job = run_job(job_with_input(owner, "train-textgen", "text", "austenish.txt", austenish(),
                             epochs=2, dry_run=True, seed=2, sample_prime="it "))
    assert job.state == JobState.SUCCEEDED, (job.error, job.message)
    return ModelVersion.objects.get(pk=job.result["trained"]["id"])


def test_a_textgen_training_job_ends_in_a_draft_that_writes_streamed_text(alice: Any, client: Client) -> None:
    version = train_textgen(alice)
    assert (version.family, version.status, version.validation) == ("textgen", "draft", "valid")
    # A dry run trains on a cut of the text.
    assert version.metrics["val_loss"] > 0 and 0 < version.metrics["characters"] < len(austenish())
    training = Job.objects.get(kind="train-textgen")
    sample = training.files.get(role=JobFile.Role.RESULT, name="sample.png")
    assert sample.content_type == "image/png" and sample.file.read().startswith(b"\x89PNG")
    # Each epoch's sample, as a picture: a dry run of 2 epochs.
    assert training.files.filter(role=JobFile.Role.PREVIEW).count() == 2
    catalog.activate(version)
    job = run_job(make_job(alice, kind="textgen", params={"prime": "it is", "length": 300, "seed": 5}))
    assert job.state == JobState.SUCCEEDED, job.error
    streamed = "".join(e.data["text"] for e in job.events.filter(kind="text").order_by("seq"))
    assert streamed == job.result["text"] and len(streamed) == 300
    out = job.files.get(role=JobFile.Role.RESULT, name="generated.txt")
    assert out.file.read().decode() == "it is" + streamed
    again = run_job(make_job(alice, kind="textgen", params={"prime": "it is", "length": 300, "seed": 5}))
    assert again.result["text"] == streamed  # the same seed writes the same text
    client.force_login(alice)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="generated-text"' in page and 'id="live-text"' in page


def test_a_prime_the_model_cannot_read_fails_the_job_saying_which_characters(alice: Any) -> None:
    catalog.activate(train_textgen(alice))
    job = run_job(make_job(alice, kind="textgen", params={"prime": "it is ☃", "length": 10}))
    assert job.state == JobState.FAILED
    assert job.error.endswith("characters not in the model's vocabulary: '☃'"), job.error


def test_the_textgen_forms_refuse_bad_settings_and_bad_text() -> None:
    assert TextgenForm(data={"prime": "   "}).errors == {
        "prime": ["Give at least one character to start from."]}
    assert TextgenForm(data={"prime": "a", "length": 5001}).errors == {
        "length": ["Ensure this value is less than or equal to 5000."]}
    assert TextgenForm(data={"prime": "a", "temperature": 0}).errors == {
        "temperature": ["Ensure this value is greater than or equal to 0.05."]}
    for data, message in [
        (b"", "The submitted file is empty."),
        (b"ok \xff\xfe", "t.txt: the text is not UTF-8: byte 0xff at line 1, column 4"),
        (b"short", "t.txt: the text is too short to train on: 5 characters, at least 1,000 needed"),
        ("\u3000".encode() * 1000 + b"Emma",  # ideographic spaces: whitespace, but not to bytes.strip()
         "t.txt: the text has too little writing to train on: 4 characters that are not spaces or line "
         "breaks, at least 500 needed"),
        # Under 10,000,000 bytes; in megabytes both sizes would read 9.5 MB.
        (b"a" * 10_000_000, "t.txt is 10,000,000 bytes; the limit is 9,999,999 bytes."),
    ]:
        form = TrainTextgenForm(data={}, files={"text": SimpleUploadedFile("t.txt", data)})
        assert not form.is_valid()
        assert errors(form).startswith(message), (message, form.errors)


def test_text_tools_are_on_the_home_page(alice: Any, client: Client) -> None:
    client.force_login(alice)
    page = client.get("/").content.decode()
    for slug in ("sentiment", "sentiment-batch", "textgen", "train-sentiment", "train-textgen"):
        assert f"/tools/{slug}/" in page


def test_a_cancelled_textgen_training_resumes_where_it_stopped(alice: Any, monkeypatch: Any) -> None:
    job = job_with_input(alice, "train-textgen", "text", "austenish.txt", austenish(), epochs=3,
                         dry_run=True, sample_prime="it ")
    stop_after_reports(monkeypatch, 1)  # stops after the first loss report
    assert run_job(job).state == JobState.CANCELLED
    monkeypatch.undo()
    assert services.can_resume(job) and not ModelVersion.objects.exists()
    resumed = run_job(services.resume(job, TrainTextgenTool()))
    assert resumed.state == JobState.SUCCEEDED, resumed.error
    stopped = resumed.result["resumed_from"]
    assert 0 < stopped < 6 and resumed.result["steps"] == 6  # went on from the checkpoint, not from 0
    trained = [e.data["step"] for e in resumed.events.filter(kind="progress") if "metrics" in e.data]
    assert trained[-1] == 6 and min(trained) > stopped
    assert ModelVersion.objects.get().metrics["steps"] == 6
