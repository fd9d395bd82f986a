"""Sentiment over a CSV of texts, as one job: every row that has a text scored (in batches, with
progress), the same CSV back with a score, or the reason there is none, on each row, and a picture
of how the scores spread. A row that cannot be scored (empty, no words, too long) fails alone; a
cancelled job keeps the rows it scored. "Retry the failed rows" on the job's page takes a corrected
CSV: the new job keeps the earlier scores of unchanged rows and scores only the rest."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from django import forms

from ml.common.metrics import score_histogram
from ml.common.progress import NOT_RUN
from ml.sentiment.data import MAX_BYTES, SentimentDataError, TextTable, earlier_scores, read_texts

from .base import CancelledWithResults, OutputFile, Tool, ToolError, ToolOutput, checked_params
from .context import EarlierJob, RunContext
from .fields import TextUploadField
from .lineage import lineage, png_output
from .sentiment import load_sentiment

if TYPE_CHECKING:
    from ml.sentiment.infer import TableScores

SCORED = "scored.csv"
FAILED_SHOWN = 100  # failed rows listed in the job's result; scored.csv has them all


class SentimentBatchForm(forms.Form):
    csv = TextUploadField(label="CSV file", max_bytes=MAX_BYTES,
                          help_text="UTF-8 CSV with a header row; one text per row (up to 50,000 rows, "
                                    "10 MB). Other columns are kept; rows that cannot be scored are "
                                    "listed and can be retried.")
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


class SentimentBatchTool(Tool):
    slug = "sentiment-batch"
    family = "sentiment"
    title = "Sentiment of a CSV"
    description = ("Scores every text of a CSV file with the catalog's sentiment model and gives the file "
                   "back with three more columns: positive_probability, predicted and error (why a row "
                   "could not be scored; retry those rows from the job's page). If the file has a "
                   "'label' column (0/1, pos/neg ...), the job also reports the accuracy.")
    queue = "cpu"
    form_class = SentimentBatchForm
    result_template = "tools/sentiment_batch_result.html"
    retry_field = "csv"

    def run(self, ctx: RunContext) -> ToolOutput:
        from ml.sentiment.infer import score_table, scored_csv

        column = checked_params(SentimentBatchForm, ctx.params)["column"]
        try:
            table = read_texts(ctx.inputs["csv"], column)
        except KeyError:
            raise ToolError("the job has no CSV file") from None
        except SentimentDataError as exc:
            raise ToolError(str(exc)) from exc
        earlier = _earlier_scores(ctx.earlier, column)
        loaded = load_sentiment()
        ctx.progress.update(0, len(table.rows), loaded.status())
        t0 = time.monotonic()
        result = score_table(loaded.model, table, earlier, progress=ctx.progress)
        seconds = time.monotonic() - t0
        summary = _summary(table, result, column, seconds)
        record = lineage(self.slug, {"column": column}, model=loaded, rows=len(result.scored))
        scores = [p for p in result.scores if p is not None]
        files = [OutputFile(SCORED, scored_csv(table, result), "text/csv"),
                 png_output("scores.png", score_histogram(scores), record)]
        output = ToolOutput(files=files, summary=summary, model=loaded)
        if result.cancelled:
            raise CancelledWithResults(output)
        return output


def _summary(table: TextTable, result: TableScores, column: str, seconds: float) -> dict[str, Any]:
    from ml.sentiment.infer import accuracy

    scores = [p for p in result.scores if p is not None]
    positive = sum(1 for p in scores if p >= 0.5)
    new = len(scores) - result.kept
    failed = result.failed()
    summary: dict[str, Any] = {
        "rows": len(table.rows), "scored": len(scores), "positive": positive,
        "negative": len(scores) - positive, "column": column, "kept_from_earlier": result.kept,
        "failed": [{"row": row, "reason": reason} for row, reason in failed[:FAILED_SHOWN]],
        "failed_count": len(failed), "not_run": sum(1 for _, reason in failed if reason == NOT_RUN),
        "seconds": round(seconds, 3), "texts_per_second": round(new / max(seconds, 1e-9), 1)}
    right = accuracy(table, result)
    if right is not None:
        summary["accuracy"] = round(right, 4)
    return summary


def _earlier_scores(earlier: EarlierJob | None, column: str) -> dict[int, tuple[str, float]]:
    """The scores of the batch job this one completes (none for a first run)."""
    if earlier is None:
        return {}
    data = earlier.result(SCORED)
    if data is None:
        raise ToolError("The earlier batch's scores are gone; run the whole CSV again.")
    try:
        return earlier_scores(data, column)
    except SentimentDataError as exc:
        raise ToolError(f"The earlier batch's {SCORED}: {exc}") from exc
