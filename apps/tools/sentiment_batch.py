"""Sentiment over a CSV of texts, as one job: every row scored (in batches, with progress), the same
CSV back with a score column, and a picture of how the scores spread."""

from __future__ import annotations

import time
from typing import Any

from django import forms

from ml.common.progress import Progress
from ml.sentiment.batch import read_texts, scored_csv
from ml.sentiment.data import MAX_BYTES, SentimentDataError
from ml.sentiment.metrics import score_histogram
from ml.sentiment.predict import predict_many

from .base import OutputFile, Tool, ToolError, ToolOutput, checked_params, register
from .fields import TextUploadField
from .lineage import lineage, png_output
from .sentiment import load_sentiment


class SentimentBatchForm(forms.Form):
    csv = TextUploadField(label="CSV file", max_bytes=MAX_BYTES,
                          help_text="UTF-8 CSV with a header row; one text per row (up to 50,000 rows, "
                                    "10 MB). Other columns are kept.")
    column = forms.CharField(label="Text column", max_length=100, initial="text", required=False,
                             help_text="The header of the column that holds the texts.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["column"] = (data.get("column") or "").strip() or "text"
        upload = data.get("csv")
        if upload is not None:  # read once, here: the texts' column is another field
            upload.seek(0)
            try:
                read_texts(upload.read(), data["column"])
            except SentimentDataError as exc:
                self.add_error("csv", f"{upload.name}: {exc}")
            upload.seek(0)
        return data


@register
class SentimentBatchTool(Tool):
    slug = "sentiment-batch"
    family = "sentiment"
    title = "Sentiment of a CSV"
    description = ("Scores every text of a CSV file with the catalog's sentiment model and gives the file "
                   "back with two more columns: positive_probability and predicted. If the file has a "
                   "'label' column (0/1, pos/neg ...), the job also reports the accuracy.")
    queue = "cpu"
    form_class = SentimentBatchForm

    def run(self, params: dict[str, Any], inputs: dict[str, bytes], progress: Progress) -> ToolOutput:
        column = checked_params(SentimentBatchForm, params)["column"]
        try:
            table = read_texts(inputs["csv"], column)
        except KeyError:
            raise ToolError("the job has no CSV file") from None
        except SentimentDataError as exc:
            raise ToolError(str(exc)) from exc
        loaded = load_sentiment()
        progress.update(0, len(table.rows), loaded.status())
        t0 = time.monotonic()
        scores = predict_many(loaded.model, table.texts, progress=progress)
        seconds = time.monotonic() - t0
        positive = sum(1 for p in scores if p >= 0.5)
        summary: dict[str, Any] = {"rows": len(scores), "positive": positive,
                                   "negative": len(scores) - positive, "column": column,
                                   "seconds": round(seconds, 3),
                                   "texts_per_second": round(len(scores) / max(seconds, 1e-9), 1)}
        labels = table.labels()
        if labels is not None:
            right = sum(1 for p, y in zip(scores, labels, strict=True) if (p >= 0.5) == (y == 1))
            summary["accuracy"] = round(right / len(labels), 4)
        record = lineage(self.slug, {"column": column}, model=loaded, rows=len(scores))
        files = [OutputFile("scored.csv", scored_csv(table, scores), "text/csv"),
                 png_output("scores.png", score_histogram(scores), record)]
        return ToolOutput(files=files, summary=summary, model=loaded)
