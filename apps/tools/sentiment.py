"""Sentiment: is a text positive or negative, and which of its words decided it. Inference with the
catalog's active sentiment model (an LSTM or a bag of words; ml/sentiment)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from django import forms

from apps.catalog.loading import LoadedModel, load_active
from ml.sentiment.data import MAX_TEXT_CHARS, tokenize  # a CSV's texts have the same limit

from .base import OutputFile, Tool, ToolOutput, checked_params
from .context import RunContext

if TYPE_CHECKING:
    import torch

    from ml.sentiment.infer import SentimentModel

ALL_WORDS = 10_000  # predict(top=...) large enough to weigh every distinct word


class SentimentForm(forms.Form):
    text = forms.CharField(label="Text", max_length=MAX_TEXT_CHARS,
                           widget=forms.Textarea(attrs={"rows": 8}),
                           help_text=f"A review, a comment, a sentence (up to {MAX_TEXT_CHARS:,} chars).")

    def clean_text(self) -> str:
        text: str = self.cleaned_data["text"]
        if not tokenize(text):
            raise forms.ValidationError("The text has no words (only spaces or punctuation).")
        return text


def _significant(x: float) -> float:
    """``x`` to 4 significant digits. Not to 4 decimals: a confident model's leave-one-out drops are
    tiny (1e-6 at a probability of 0.9999), and rounding them to 0.0 loses which way a word pushed."""
    return float(f"{x:.4g}")


def load_sentiment(device: torch.device | None = None) -> LoadedModel[SentimentModel]:
    """The active (or pinned) sentiment model on ``device`` (the CPU unless told), cached by the
    process. The tools score on the CPU; the invoke server's batches go to a GPU where there is one."""
    import torch

    from ml.sentiment.infer import load

    where = device or torch.device("cpu")
    # Validated when the version was added; loading checks the bytes are still those.
    return load_active("sentiment", lambda ckpt: load(ckpt, where, validate=False), purpose=str(where))


class SentimentTool(Tool):
    slug = "sentiment"
    family = "sentiment"
    title = "Sentiment"
    description = ("Reads a text and says whether it is positive or negative, with how sure it is, and "
                   "highlights the words that pushed it most either way (found by leaving each word out "
                   "and scoring again).")
    queue = "cpu"
    form_class = SentimentForm
    result_template = "tools/sentiment_result.html"

    def run(self, ctx: RunContext) -> ToolOutput:
        from ml.sentiment.infer import predict, segments

        text = checked_params(SentimentForm, ctx.params)["text"]
        loaded = load_sentiment()
        ctx.progress.update(0, 1, loaded.status())
        t0 = time.monotonic()
        result = predict(loaded.model, text, top=ALL_WORDS)
        weights = dict(result.words)
        # The page colours words towards positive (green) or negative (red), whatever the label:
        # a weight says how much the word supported the predicted label.
        sign = 1.0 if result.label == "positive" else -1.0
        strongest = max((abs(w) for w in weights.values()), default=0.0) or 1.0
        pieces = [[piece, None if w is None else _significant(sign * w), None if w is None else
                   round(abs(w) / strongest, 3)] for piece, w in segments(text, weights)]
        cfg = loaded.model.config
        summary: dict[str, Any] = {
            "label": result.label, "probability": round(result.probability, 4),
            "percent": round(100 * result.probability, 1),
            "top_words": [[w, _significant(d)] for w, d in result.words[:5]],
            "segments": pieces, "model_kind": cfg.kind, "words_read": min(len(tokenize(text)), cfg.length),
            "words_limit": cfg.length, "seconds": round(time.monotonic() - t0, 4),
        }
        ctx.progress.update(1, 1, f"{result.label} ({result.probability:.3f})")
        report = {k: summary[k] for k in ("label", "probability", "top_words", "model_kind")}
        files = [OutputFile("prediction.json", json.dumps({"text": text, **report}, indent=2).encode(),
                            "application/json")]
        return ToolOutput(files=files, summary=summary, model=loaded)
