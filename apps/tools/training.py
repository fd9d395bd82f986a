"""Training as studio jobs: what the DCGAN, CycleGAN and fast-style training tools share.

A training tool reads the uploaded images, calls its ml trainer (ml/<family>/training.py) with the
job's reporter as the Progress listener (losses every few steps become the live loss chart, sample
grids the previews), and keeps the training checkpoint in the job's work folder. A cancelled, failed
or interrupted training can then go on: "Resume training" on the job page starts a new job with the
same settings and inputs that continues from that checkpoint (a worker that died mid-job picks it up
by itself when the broker redelivers the job). At the end the trained model becomes a draft version
in the catalog, validated, with its samples as previews, for an admin to activate.
"""

from __future__ import annotations

import io
import json
import shutil
import time
from pathlib import Path
from typing import Any, ClassVar

from django import forms
from django.urls import reverse
from PIL import Image

from apps.catalog import services as catalog
from apps.catalog.models import ModelVersion
from ml.common.charts import loss_chart
from ml.common.image_zip import ImageSet, ImageZipError, read_image_zip
from ml.common.training import TrainResult

from .base import OutputFile, Tool, ToolError, ToolOutput, checked_params
from .context import TRAINING_STATE, EarlierJob, JobProgress, RunContext
from .fields import zip_limits
from .lineage import lineage, png_output

MAX_SEED = 2**31 - 1


class TrainingForm(forms.Form):
    """Fields every training tool has; each tool's form adds its data and settings."""

    name = forms.CharField(label="Model name", max_length=100, required=False,
                           help_text="What the new model version is called in the catalog.")
    seed = forms.IntegerField(label="Seed", min_value=0, max_value=MAX_SEED, initial=0, required=False,
                              help_text="The same seed, data and settings train the same model (on a CPU).")
    dry_run = forms.BooleanField(label="Dry run", required=False,
                                 help_text="A few steps on a few images: checks the data and settings in "
                                           "seconds. Its model is registered too, as a draft.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Blank number fields take their initial value (a form posted by hand, or by a test).
        for name, field in self.fields.items():
            if data.get(name) in (None, "") and name not in self.errors and field.initial is not None:
                data[name] = field.initial
        return data


class TrainingTool(Tool):
    queue = "gpu"
    trains = True
    chart_keys: ClassVar[tuple[str, ...]]  # the metrics drawn in the final loss chart
    data_unit: ClassVar[str] = "images"  # what TrainResult.images counts, as the version's metric name
    preview_name: ClassVar[str] = "samples.png"  # the result file of TrainResult.preview
    form_class: ClassVar[type[forms.Form]]

    def train(self, params: dict[str, Any], inputs: dict[str, bytes], progress: JobProgress,
              state: Path) -> TrainResult:
        """Read the inputs, build the trainer's config from ``params`` and train; the training
        checkpoint is ``state`` (resumed when it exists)."""
        raise NotImplementedError

    def model_card(self, params: dict[str, Any], result: TrainResult) -> str:
        """The draft version's description: what it was trained on, how, and how it ended."""
        losses = ", ".join(f"{k} {v:.4g}" for k, v in result.final.items())
        lines = [f"Trained in the studio with the {self.title} tool on {result.images} images, "
                 f"{result.step} steps (batch {result.batch_size}). Final losses: {losses}."]
        lines += [f"Note: {note}" for note in result.notes]
        return "\n".join(lines)

    def run(self, ctx: RunContext) -> ToolOutput:
        if ctx.workdir is None:  # the checkpoint lives in the job's work folder
            raise ToolError("training runs only as a studio job")
        p = self.params(checked_params(self.form_class, ctx.params))
        state = ctx.workdir / TRAINING_STATE
        if ctx.earlier is not None and not state.exists():  # a resumed training's first attempt
            _resume(ctx.earlier, state, ctx.progress)
        t0 = time.monotonic()
        result = self.train(p, ctx.inputs, ctx.progress, state)
        seconds = time.monotonic() - t0

        name = p.get("name") or f"{self.title} {time.strftime('%Y-%m-%d %H:%M')}"
        version = catalog.add_trained(
            self.family, name, result.checkpoint, previews=[("samples", _jpeg(result.preview))],
            description=self.model_card(p, result), created_by=ctx.owner,
            source_ref=f"job:{ctx.job_id}",
            metrics={**result.final, "steps": result.step, self.data_unit: result.images},
        )
        state.unlink(missing_ok=True)  # finished: the model is in the catalog now
        record = lineage(self.slug, p, seed=p.get("seed"), trained={
            "id": version.pk, "label": version.label, "sha256": version.sha256})
        chart = loss_chart(result.history, self.chart_keys, title=f"{self.title}: {version.label}")
        files = [
            png_output(self.preview_name, result.preview, record),
            png_output("loss-chart.png", chart, record),
            OutputFile("history.json", json.dumps(result.history).encode(), "application/json"),
            OutputFile(f"{self.family}-v{version.version}.pt", _read(version), "application/octet-stream"),
        ]
        summary = {
            "trained": {"id": version.pk, "label": version.label, "name": version.name,
                        "status": version.status,
                        "admin_url": reverse("admin:catalog_modelversion_change", args=[version.pk])},
            "final": result.final, "steps": result.step, "total_steps": result.total_steps,
            "resumed_from": result.resumed_from, self.data_unit: result.images,
            "batch_size": result.batch_size, "notes": result.notes, "seconds": round(seconds, 1),
        }
        return ToolOutput(files=files, summary=summary, model_version=f"trained {version.label}")


def read_zip(data: bytes, what: str, **kw: Any) -> ImageSet:
    """An uploaded image zip, read with the studio's limits; warnings are for the job's log."""
    try:
        return read_image_zip(data, limits=zip_limits(), **kw)
    except ImageZipError as exc:
        raise ToolError(f"{what}: {exc}") from exc


def log_skipped(progress: JobProgress, found: ImageSet, what: str) -> None:
    """Tell the user which files of the upload were not used, in the job's log."""
    if not found.warnings:
        return
    shown = "; ".join(found.warnings[:5])
    more = f" (and {len(found.warnings) - 5} more)" if len(found.warnings) > 5 else ""
    progress.log(f"{what}: {len(found.images)} images used, "
                 f"{len(found.warnings)} files skipped: {shown}{more}")


def _resume(earlier: EarlierJob, state: Path, progress: JobProgress) -> None:
    """Start from the earlier job's training checkpoint, and carry its loss points over so this
    job's chart shows the whole training, not just what this job adds."""
    source = earlier.training_state()
    if source is None:
        raise ToolError("The training checkpoint to resume from is gone (the earlier job finished or "
                        "its files were removed). Start a new training instead.")
    state.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, state)
    progress.carry_history(earlier.loss_points(), f"resuming the training of job {earlier.id}")


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _read(version: ModelVersion) -> bytes:
    with version.checkpoint.open("rb") as fh:
        return fh.read()
