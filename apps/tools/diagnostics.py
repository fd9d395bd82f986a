"""A tool for checking the job machinery itself: it sleeps in steps, and can ignore cancel or
crash on request. Registered only when STUDIO_DIAGNOSTIC_TOOLS is on (tests, debugging a deploy)."""

from __future__ import annotations

import time

from django import forms

from ml.common.progress import check_cancelled

from .base import OutputFile, Tool, ToolError, ToolOutput
from .context import RunContext


class SleepForm(forms.Form):
    steps = forms.IntegerField(min_value=1, max_value=10_000, initial=10)
    step_seconds = forms.FloatField(min_value=0, max_value=60, initial=0.2)
    ignore_cancel = forms.BooleanField(required=False)
    fail = forms.BooleanField(required=False)


class SleepTool(Tool):
    slug = "sleep"
    title = "Diagnostics: sleep"
    description = "Sleeps in steps and reports progress; for testing workers and the live page."
    queue = "cpu"
    form_class = SleepForm

    def run(self, ctx: RunContext) -> ToolOutput:
        steps = int(ctx.params.get("steps", 10))
        for step in range(1, steps + 1):
            time.sleep(float(ctx.params.get("step_seconds", 0.2)))
            ctx.progress.update(step, steps, f"slept {step}")
            if not ctx.params.get("ignore_cancel"):
                check_cancelled(ctx.progress)
        if ctx.params.get("fail"):
            raise ToolError("Asked to fail.")
        text = f"slept {steps} steps\n".encode()
        return ToolOutput(files=[OutputFile("sleep.txt", text, "text/plain")], summary={"steps": steps})
