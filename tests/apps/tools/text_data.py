"""Made-up data for the text tools' tests (unit and browser): reviews whose label a few words give
away, as CSV; Austen-like text; a job with one uploaded input; a trained sentiment draft."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

from apps.catalog.models import ModelVersion
from apps.jobs.models import Job, JobState
from tests.apps.conftest import add_input, make_job, run_job

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
    add_input(job, field, name, data)
    return job


def train_sentiment(owner: Any, **params: Any) -> ModelVersion:
    settings = {"kind": "bow", "epochs": 8, "batch_size": 8, "lr": 0.05, "seed": 1, **params}
    data = csv_bytes(reviews())
    job = run_job(job_with_input(owner, "train-sentiment", "texts", "reviews.csv", data, **settings))
    assert job.state == JobState.SUCCEEDED, (job.error, job.message)
    return ModelVersion.objects.get(pk=job.result["trained"]["id"])
