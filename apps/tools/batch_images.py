"""One image tool over every image of a zip, as one job: per-image progress, a zip of results, and
a report naming each image that failed and why. A job with failures can be retried with a zip of
replacements ("Retry the failed images" on its page): the new job keeps the earlier results and
runs only the uploaded images, so the set completes without redoing what worked. A cancelled batch
keeps the images it finished; the ones it did not reach are listed as failed, to retry the same way."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.utils.datastructures import MultiValueDict

from ml.common.image_zip import ImageZipError, read_image_zip
from ml.common.progress import NOT_RUN, Cancelled, check_cancelled

from .base import CancelledWithResults, OutputFile, Tool, ToolError, ToolOutput
from .context import EarlierJob, ProgressOnly, RunContext
from .cyclegan import CycleGANTool
from .fast_style import FastStyleTool
from .fields import ImageZipField, zip_limits

# The tools a batch can run: those that take one picture (the field named here) and make one. The
# batch has its own instances: the registry imports this module, so this one cannot ask it.
BATCH_TOOLS: dict[str, tuple[Tool, str]] = {"cyclegan": (CycleGANTool(), "photo"),
                                            "fast-style": (FastStyleTool(), "photo")}
RESULTS, REPORT = "results.zip", "report.csv"


class _Quiet(ProgressOnly):
    """The inner tool's listener: its own progress is not the batch's; cancelling the batch stops it."""

    def update(self, step: int, total: int, message: str = "", preview: Any = None,
               metrics: dict[str, float] | None = None) -> None:
        pass


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class BatchImagesForm(forms.Form):
    images = ImageZipField(label="Images (zip)", help_text="Every image in it is processed; files that are "
                                                          "not images are listed in the report.")
    tool = forms.ChoiceField(label="Tool", choices=[(slug, slug) for slug in BATCH_TOOLS], initial="cyclegan")
    tool_params = forms.CharField(label="The tool's settings (JSON)", required=False, initial="{}",
                                  widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text='As on the tool\'s own page, e.g. {"style": "swirling starry '
                                            'blue", "max_side": 512}. Blank fields take their defaults.')

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload, slug = data.get("images"), data.get("tool")
        if upload is None or slug is None:
            return data
        try:
            settings = json.loads(data.get("tool_params") or "{}")
        except json.JSONDecodeError as exc:
            self.add_error("tool_params", f"Not JSON: {exc}")
            return data
        if not isinstance(settings, dict):
            self.add_error("tool_params", "Give a JSON object, e.g. {\"max_side\": 512}.")
            return data
        # The settings go through the tool's own form, with the zip's first image as its picture.
        upload.seek(0)
        first = read_image_zip(upload, limits=zip_limits(), max_images=1).images[0]
        upload.seek(0)
        tool, field = BATCH_TOOLS[slug]
        defaults = {name: f.initial for name, f in tool.form_class.base_fields.items()
                    if f.initial is not None and not isinstance(f, forms.FileField)}
        settings = {**defaults, **settings}  # a field left out takes its initial value
        upload_of_first: UploadedFile = SimpleUploadedFile("first.png", _png(first), "image/png")
        picture = MultiValueDict({field: [upload_of_first]})
        inner = tool.form_class(settings, picture)
        if not inner.is_valid():
            self.add_error("tool_params", "; ".join(f"{k}: {' '.join(str(m) for m in v)}"
                                                    for k, v in inner.errors.items()))
            return data
        data["tool_params"] = {k: v for k, v in tool.params(inner.cleaned_data).items() if k != field}
        return data


class BatchImagesTool(Tool):
    slug = "batch-images"
    title = "Batch: an image tool over a zip"
    description = ("Run CycleGAN or fast style over every image of a zip as one job: progress per image, the "
                   "results as a zip, and a report of the images that failed and why (retry them with "
                   "replacements from the job's page).")
    queue = "gpu"
    form_class = BatchImagesForm
    result_template = "tools/batch_result.html"
    retry_field = "images"

    def example_families(self) -> tuple[str, ...]:
        return tuple(tool.family for tool, _ in BATCH_TOOLS.values())  # CycleGAN's, else fast style's

    def params(self, cleaned_data: dict[str, Any]) -> dict[str, Any]:
        return {"tool": cleaned_data["tool"], "tool_params": cleaned_data["tool_params"]}

    def form_data(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"tool": params.get("tool"), "tool_params": json.dumps(params.get("tool_params") or {})}

    def run(self, ctx: RunContext) -> ToolOutput:
        slug, progress = ctx.params.get("tool"), ctx.progress
        if str(slug) not in BATCH_TOOLS:
            raise ToolError(f"A batch cannot run the tool {slug!r}.")
        tool, field = BATCH_TOOLS[str(slug)]
        try:
            found = read_image_zip(ctx.inputs["images"], limits=zip_limits())
        except ImageZipError as exc:
            raise ToolError(f"Images: {exc}") from exc
        kept = _earlier_results(ctx.earlier)
        failures = [_name_and_reason(w) for w in found.warnings]
        results: dict[str, bytes] = dict(kept)
        total = len(found.images)
        progress.update(0, total, f"{total} images, {len(failures)} unreadable"
                        + (f", {len(kept)} results kept from the earlier job" if kept else ""))
        started = time.monotonic()
        quiet = _Quiet(progress)
        names = list(found.names)
        for i, (name, image) in enumerate(zip(names, found.images, strict=True), start=1):
            try:
                check_cancelled(progress)
                # The inner run is part of this job: same owner and folder, its own settings.
                output = tool.run(replace(ctx, params=dict(ctx.params.get("tool_params") or {}),
                                          inputs={field: _png(image)}, progress=quiet, earlier=None))
                picture = next(f for f in output.files if f.content_type == "image/png")
            except Cancelled:  # keep what is done; the images not reached are failures to retry
                failures += [(n, NOT_RUN) for n in names[i - 1:]]
                raise CancelledWithResults(self._output(str(slug), results, failures, len(kept),
                                                        started)) from None
            except (ToolError, ValueError, StopIteration) as exc:
                failures.append((name, str(exc) or "the tool made no picture"))
            else:
                results[str(PurePosixPath(name).with_suffix(".png"))] = picture.content
                failures = [f for f in failures if f[0] != name]
            progress.update(i, total, f"{i} of {total}: {name}")
        return self._output(str(slug), results, failures, len(kept), started)

    def _output(self, slug: str, results: dict[str, bytes], failures: list[tuple[str, str]], kept: int,
                started: float) -> ToolOutput:
        """results.zip and report.csv, for a finished batch or what a cancelled one did."""
        report = io.StringIO()
        writer = csv.writer(report)
        writer.writerow(["image", "status", "reason"])
        for name in sorted(results):
            writer.writerow([name, "ok", ""])
        for name, reason in failures:
            writer.writerow([name, "failed", reason])
        summary = {"tool": slug, "done": len(results),
                   "failed": [{"image": n, "reason": r} for n, r in failures],
                   "not_run": sum(1 for _, r in failures if r == NOT_RUN),
                   "kept_from_earlier": kept, "seconds": round(time.monotonic() - started, 2)}
        return ToolOutput(files=[OutputFile(RESULTS, _zip(results), "application/zip"),
                                 OutputFile(REPORT, report.getvalue().encode(), "text/csv")],
                          summary=summary, model_version=f"batch of {slug}")


def _name_and_reason(warning: str) -> tuple[str, str]:
    """"name: why" from the zip reader's warning about an image it skipped."""
    name, _, reason = warning.partition(": ")
    return (name, reason) if reason else (warning, "unreadable")


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for name in sorted(files):
            archive.writestr(name, files[name])
    return buffer.getvalue()


def _earlier_results(earlier: EarlierJob | None) -> dict[str, bytes]:
    """The results of the batch job this one completes (none for a first run)."""
    if earlier is None:
        return {}
    stored = earlier.result(RESULTS)
    if stored is None:
        raise ToolError("The earlier batch's results are gone; run the whole batch again.")
    with zipfile.ZipFile(io.BytesIO(stored)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
