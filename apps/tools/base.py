"""What a tool is. Each tool is one module (apps/tools/<slug>.py) with a form and a `run`, listed in
registry.py; the generic submit view, job runner and pages do the rest. `run` gets a RunContext
(context.py) and returns a ToolOutput.

A tool module imports torch, and the ml modules that load it, inside `run` (or the loader it calls):
the web process imports every tool for its form and never loads torch (tests/studio/test_web_imports.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from django import forms

from apps.catalog.loading import LoadedModel
from ml.common.progress import Cancelled

from .context import RunContext


class ToolError(Exception):
    """A problem with the user's input or parameters, shown to them as the job's error."""


@dataclass
class OutputFile:
    name: str
    content: bytes
    content_type: str


@dataclass
class ToolOutput:
    files: list[OutputFile] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    model_version: str = ""  # a label, for work that uses no catalog model (e.g. diagnostics)
    model: LoadedModel[Any] | None = None  # the catalog version used; the job records it


class CancelledWithResults(Cancelled):
    """A cancel that stopped a tool part way, with what it finished (a batch's partial results): the
    runner stores the output's files and summary, and the job still ends cancelled."""

    def __init__(self, output: ToolOutput) -> None:
        super().__init__("cancelled; partial results kept")
        self.output = output


class Tool:
    slug: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str] = ""
    queue: ClassVar[str] = "gpu"
    form_class: ClassVar[type[forms.Form]]
    trains: ClassVar[bool] = False  # a training tool (listed under "Train" on the home page)
    # The catalog family of the model it uses (jobs are routed to the family's endpoint variants),
    # or, for a training tool, the family it trains. "" for tools without a model.
    family: ClassVar[str] = ""
    # The submit page; a tool with its own controls (e.g. a style picker) extends this template.
    submit_template: ClassVar[str] = "jobs/submit.html"
    # A template shown in the job page's result box (with ``job``), for results that are not files
    # (e.g. a sentiment's highlighted words); "" for none.
    result_template: ClassVar[str] = ""
    # A batch tool whose failed items can be retried from the job page: the file field that takes
    # the replacements ("" for other tools). The retry goes through the tool's form again, with the
    # earlier job's settings (``form_data``) and the new file, and its job gets CONTINUE_FROM
    # (apps/tools/context.py).
    retry_field: ClassVar[str] = ""

    def example_families(self) -> tuple[str, ...]:
        """The families whose active version's example the home page shows on this tool's card, the
        first that has one: the tool's own (for a training tool, the kind of model it trains)."""
        return (self.family,) if self.family else ()

    def submit_context(self) -> dict[str, Any]:
        """Extra context for the submit page (e.g. the active model's style previews)."""
        return {}

    def params(self, cleaned_data: dict[str, Any]) -> dict[str, Any]:
        """The JSON-safe parameters to store on the job (files are stored separately)."""
        return {
            name: value
            for name, value in cleaned_data.items()
            if name not in self.file_fields() and value is not None
        }

    def form_data(self, params: dict[str, Any]) -> dict[str, Any]:
        """The form data that gives back these stored parameters (the inverse of ``params``)."""
        return dict(params)

    def file_fields(self) -> list[str]:
        return [name for name, f in self.form_class.base_fields.items() if isinstance(f, forms.FileField)]

    def run(self, ctx: RunContext) -> ToolOutput:
        """Do the job's work (``ctx``: its parameters, inputs, listener ...) and return its results."""
        raise NotImplementedError


def checked_params(form_class: type[forms.Form], params: dict[str, Any]) -> dict[str, Any]:
    """Stored parameters through the submit form's checks (a rerun, an old job), file fields aside."""
    form = form_class(data=params)
    for form_field in form.fields.values():
        if isinstance(form_field, forms.FileField):
            form_field.required = False
    if not form.is_valid():
        raise ToolError(f"Invalid parameters: {form.errors.as_text()}")
    return form.cleaned_data

