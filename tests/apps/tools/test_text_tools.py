"""The text tools through the real job runner: sentiment training (dry run and a real bag of words)
ends in a draft version with its test report; once active, the sentiment tool highlights the words
that decided a text and the batch tool scores a CSV; text-generation training ends in a draft that,
once active, writes text streamed as "text" events. Bad input is refused with a clear message before
anything is queued."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.catalog import services as catalog
from apps.catalog.models import ModelVersion
from apps.jobs import runner
from apps.jobs.models import Job, JobFile, JobState
from apps.tools.sentiment import SentimentForm
from apps.tools.sentiment_batch import SentimentBatchForm
from apps.tools.textgen import TextgenForm
from apps.tools.train_sentiment import TrainSentimentForm
from apps.tools.train_textgen import TrainTextgenForm, TrainTextgenTool
from tests.apps.conftest import make_job

pytestmark = pytest.mark.django_db

GOOD = ["good", "great", "excellent", "wonderful", "loved", "superb"]
BAD = ["bad", "awful", "terrible", "boring", "hated", "dreadful"]
FILLER = ["the", "film", "was", "a", "plot", "actors", "and", "story", "it", "really"]


def reviews(n: int = 120, seed: int = 0) -> list[tuple[str, int]]:
    """Texts whose label is given away by a few words among neutral ones."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        words = rng.choices(FILLER, k=8) + rng.choices(GOOD if label else BAD, k=2)
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def csv_bytes(rows: list[tuple[str, int]], header: tuple[str, str] = ("text", "label")) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def austenish(chars: int = 6000) -> bytes:
    rng = random.Random(1)
    words = ["it", "is", "a", "truth", "universally", "acknowledged", "that", "the", "man", "of", "fortune",
             "must", "be", "in", "want", "wife", "Elizabeth", "said", "Mr.", "Darcy"]
    text = []
    while sum(len(w) + 1 for w in text) < chars:
        text.append(rng.choice(words))
    return (" ".join(text) + ".\n").encode()


def errors(form: Any) -> str:
    """A bound form's error messages as plain text (str(form.errors) is HTML-escaped)."""
    form.is_valid()
    return " ".join(str(m) for messages in form.errors.values() for m in messages)


def job_with_input(owner: Any, tool: str, field: str, name: str, data: bytes, **params: Any) -> Job:
    job = make_job(owner, kind=tool, params=params)
    f = JobFile(job=job, role=JobFile.Role.INPUT, field=field, name=name, size=len(data))
    f.file.save(name, io.BytesIO(data), save=True)
    return job


def run(job: Job) -> Job:
    runner.run(str(job.pk), job.task_id or "task-1", "worker-a")
    job.refresh_from_db()
    return job


def train_sentiment(owner: Any, **params: Any) -> ModelVersion:
    settings = {"kind": "bow", "epochs": 8, "batch_size": 8, "lr": 0.05, "seed": 1, **params}
    data = csv_bytes(reviews())
    job = run(job_with_input(owner, "train-sentiment", "texts", "reviews.csv", data, **settings))
    assert job.state == JobState.SUCCEEDED, (job.error, job.message)
    return ModelVersion.objects.get(pk=job.result["trained"]["id"])


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
    job = Job.objects.get(kind="train-sentiment")
    charted = [e.data["metrics"] for e in job.events.filter(kind="progress") if "metrics" in e.data]
    assert any("val_accuracy" in m for m in charted) and any("loss" in m for m in charted)
    names = set(job.files.filter(role=JobFile.Role.RESULT).values_list("name", flat=True))
    assert {"roc-curve.png", "loss-chart.png", "history.json"} <= names


def test_the_sentiment_tool_highlights_the_words_that_decided(alice: Any, client: Client) -> None:
    catalog.activate(train_sentiment(alice))
    text = "The plot was boring and the actors were AWFUL, really dreadful."
    job = run(make_job(alice, kind="sentiment", params={"text": text}))
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
    assert "text" in SentimentForm(data={"text": "   "}).errors
    assert "no words" in errors(SentimentForm(data={"text": "?! ... --"}))
    assert "at most 20000" in errors(SentimentForm(data={"text": "word " * 5000}))


def test_a_csv_is_scored_as_a_job_with_a_score_column(alice: Any) -> None:
    catalog.activate(train_sentiment(alice))
    rows = reviews(40, seed=7)
    data = csv_bytes([(t, y) for t, y in rows], header=("text", "label"))
    job = run(job_with_input(alice, "sentiment-batch", "csv", "mine.csv", data, column="text"))
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


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"),
    (b"words,label\nhello,1\n", "no 'text' column"),
    (b"text,label\n", "header but no rows"),
    (b"text\n\xff\xfe bad\n", "not UTF-8"),
    (b"id,text\n1,\n2,?!\n", "no row has a text to score (row 2: empty text; row 3: no words"),
])
def test_the_batch_form_refuses_bad_csvs(data: bytes, message: str) -> None:
    form = SentimentBatchForm(data={"column": "text"}, files={"csv": SimpleUploadedFile("x.csv", data)})
    assert not form.is_valid()
    assert message in errors(form), form.errors


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"),
    (b"text\nonly texts\n", "missing column: label"),
    (b"text,label\nnice,1\nmeh,maybe\n", "row 3: label 'maybe' is not binary"),
    (b"text,label\nnice,1\nbad,\n", "row 3: the label is missing"),
    (b"text,label\n\xc3\x28,1\n", "not UTF-8"),
    (b"text,label\n" + b"x,1\n" * 100_000, "too many rows: 100,000"),
])
def test_the_sentiment_training_form_refuses_bad_csvs(data: bytes, message: str) -> None:
    form = TrainSentimentForm(data={}, files={"texts": SimpleUploadedFile("x.csv", data)})
    assert not form.is_valid()
    assert message in errors(form), form.errors


# --- text generation -----------------------------------------------------------------------------------


def train_textgen(owner: Any) -> ModelVersion:
    job = run(job_with_input(owner, "train-textgen", "text", "austenish.txt", austenish(),
                             epochs=2, dry_run=True, seed=2, sample_prime="it "))
    assert job.state == JobState.SUCCEEDED, (job.error, job.message)
    return ModelVersion.objects.get(pk=job.result["trained"]["id"])


def test_a_textgen_training_job_ends_in_a_draft_that_writes_streamed_text(alice: Any, client: Client) -> None:
    version = train_textgen(alice)
    assert (version.family, version.status, version.validation) == ("textgen", "draft", "valid")
    assert "val_loss" in version.metrics and "characters" in version.metrics
    training = Job.objects.get(kind="train-textgen")
    assert training.files.filter(role=JobFile.Role.RESULT, name="sample.png").exists()
    assert training.files.filter(role=JobFile.Role.PREVIEW).exists()  # each epoch's sample, as a picture
    catalog.activate(version)
    job = run(make_job(alice, kind="textgen", params={"prime": "it is", "length": 300, "seed": 5}))
    assert job.state == JobState.SUCCEEDED, job.error
    streamed = "".join(e.data["text"] for e in job.events.filter(kind="text").order_by("seq"))
    assert streamed == job.result["text"] and len(streamed) == 300
    out = job.files.get(role=JobFile.Role.RESULT, name="generated.txt")
    assert out.file.read().decode() == "it is" + streamed
    again = run(make_job(alice, kind="textgen", params={"prime": "it is", "length": 300, "seed": 5}))
    assert again.result["text"] == streamed  # the same seed writes the same text
    client.force_login(alice)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="generated-text"' in page and 'id="live-text"' in page


def test_a_prime_the_model_cannot_read_fails_the_job_saying_which_characters(alice: Any) -> None:
    catalog.activate(train_textgen(alice))
    job = run(make_job(alice, kind="textgen", params={"prime": "it is ☃", "length": 10}))
    assert job.state == JobState.FAILED
    assert "☃" in job.error


def test_the_textgen_forms_refuse_bad_settings_and_bad_text() -> None:
    assert "prime" in TextgenForm(data={"prime": "   "}).errors
    assert "length" in TextgenForm(data={"prime": "a", "length": 5001}).errors
    assert "temperature" in TextgenForm(data={"prime": "a", "temperature": 0}).errors
    for data, message in [(b"", "empty"), (b"ok \xff\xfe", "not UTF-8"), (b"short", "too short"),
                          (b"a" * 10_000_000, "limit is")]:
        form = TrainTextgenForm(data={}, files={"text": SimpleUploadedFile("t.txt", data)})
        assert not form.is_valid()
        assert message in errors(form), (message, form.errors)


def test_text_tools_are_on_the_home_page(alice: Any, client: Client) -> None:
    client.force_login(alice)
    page = client.get("/").content.decode()
    for slug in ("sentiment", "sentiment-batch", "textgen", "train-sentiment", "train-textgen"):
        assert f"/tools/{slug}/" in page


def test_a_cancelled_textgen_training_resumes_where_it_stopped(alice: Any, monkeypatch: Any) -> None:
    from apps.jobs import services
    from apps.jobs.reporter import JobReporter
    from tests.apps.tools.test_training import cancel_after

    job = job_with_input(alice, "train-textgen", "text", "austenish.txt", austenish(), epochs=3,
                         dry_run=True, sample_prime="it ")
    update, cancelled = cancel_after(1)  # stops after the first loss report
    monkeypatch.setattr(JobReporter, "update", update)
    monkeypatch.setattr(JobReporter, "cancelled", cancelled)
    assert run(job).state == JobState.CANCELLED
    monkeypatch.undo()
    assert services.can_resume(job) and not ModelVersion.objects.exists()
    resumed = run(services.resume(job, TrainTextgenTool()))
    assert resumed.state == JobState.SUCCEEDED, resumed.error
    stopped = resumed.result["resumed_from"]
    assert 0 < stopped < 6 and resumed.result["steps"] == 6  # went on from the checkpoint, not from 0
    trained = [e.data["step"] for e in resumed.events.filter(kind="progress") if "metrics" in e.data]
    assert trained[-1] == 6 and min(trained) > stopped
    assert ModelVersion.objects.get().metrics["steps"] == 6
