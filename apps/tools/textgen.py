"""Text generation: the catalog's char-RNN writes on from a prime, and the characters appear in the
job page as they are drawn ("text" events, a few a second, each carrying what was written since
the last)."""

from __future__ import annotations

import time
from typing import Any

from django import forms

from apps.catalog.loading import load_active
from ml.common.progress import check_cancelled

from .base import OutputFile, Tool, ToolError, ToolOutput, checked_params
from .context import RunContext

MAX_SEED = 2**31 - 1
MAX_LENGTH = 5_000
FLUSH_SECONDS = 0.1  # how often written text goes to the page: live, without an event per character


class TextgenForm(forms.Form):
    prime = forms.CharField(label="Start with", max_length=500, initial="It is a truth", strip=False,
                            help_text="The text to write on from (characters the model knows).")
    length = forms.IntegerField(label="Characters", min_value=1, max_value=MAX_LENGTH, initial=600,
                                required=False, help_text=f"How much to write (up to {MAX_LENGTH:,}).")
    temperature = forms.FloatField(label="Temperature", min_value=0.05, max_value=3.0, initial=0.8,
                                   required=False,
                                   help_text="Below 1: safer, more repetitive; above: wilder.")
    top_k = forms.IntegerField(label="Top k", min_value=0, max_value=500, initial=5, required=False,
                               help_text="Draw each character from the k likeliest (1: always the likeliest; "
                                         "0: from all).")
    seed = forms.IntegerField(label="Seed", min_value=0, max_value=MAX_SEED, initial=0, required=False,
                              help_text="The same seed and settings write the same text.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, field in self.fields.items():  # blank numbers take their initial value
            if data.get(name) is None and name not in self.errors:
                data[name] = field.initial
        if not (data.get("prime") or "").strip() and "prime" not in self.errors:
            self.add_error("prime", "Give at least one character to start from.")
        return data


class TextgenTool(Tool):
    slug = "textgen"
    family = "textgen"
    title = "Text generation"
    description = ("The catalog's character-level LSTM writes on from your opening words, one character at "
                   "a time; you watch the text appear as it is written.")
    queue = "gpu"
    form_class = TextgenForm
    result_template = "tools/textgen_result.html"

    def run(self, ctx: RunContext) -> ToolOutput:
        from ml.common.device import pick_device
        from ml.textgen.infer import generate, load

        p = checked_params(TextgenForm, ctx.params)
        progress = ctx.progress  # the job's reporter: the text goes to the page as it is written
        device = pick_device()
        # Validated when the version was added; loading checks the bytes are still those.
        loaded = load_active("textgen", lambda ckpt: load(ckpt, device, validate=False),
                             purpose=str(device))
        length = p["length"]
        progress.update(0, length, loaded.status())
        try:
            chars = generate(loaded.model, p["prime"], length, temperature=p["temperature"],
                             top_k=p["top_k"] or None, seed=p["seed"], device=device)
        except ValueError as exc:  # e.g. a prime with characters the model never saw
            raise ToolError(str(exc)) from exc
        written: list[str] = []
        pending: list[str] = []
        t0 = last = time.monotonic()
        for ch in chars:
            written.append(ch)
            pending.append(ch)
            now = time.monotonic()
            if now - last >= FLUSH_SECONDS:
                check_cancelled(progress)
                progress.text("".join(pending))
                pending.clear()
                progress.update(len(written), length, f"{len(written)} of {length} characters")
                last = now
        seconds = time.monotonic() - t0
        if pending:
            progress.text("".join(pending))
        text = "".join(written)
        summary = {"prime": p["prime"], "text": text, "characters": len(text), "seed": p["seed"],
                   "temperature": p["temperature"], "top_k": p["top_k"], "device": str(device),
                   "seconds": round(seconds, 3), "chars_per_second": round(len(text) / max(seconds, 1e-9), 1)}
        files = [OutputFile("generated.txt", (p["prime"] + text).encode("utf-8"),
                            "text/plain; charset=utf-8")]
        return ToolOutput(files=files, summary=summary, model=loaded)
