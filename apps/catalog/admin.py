"""Admin for model versions (upload, see validation, activate / retire / roll back) and for
endpoints with their production variants (A/B traffic weights, figures side by side, promote)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from . import routing, services, variant_metrics
from .models import Capture, DriftReport, Endpoint, GuardrailTrip, ModelPreview, ModelVersion, Variant
from .tasks import queue_validation

T = TypeVar("T")

RECENT_JOBS = 10


def _each(request: HttpRequest, items: Iterable[T], act: Callable[[T], str]) -> None:
    """An admin action's ``act`` on each item, its message shown; a CatalogError is shown as an error
    and the other items still go."""
    for item in items:
        try:
            messages.success(request, act(item))
        except services.CatalogError as exc:
            messages.error(request, str(exc))


class ModelPreviewInline(admin.TabularInline):
    model = ModelPreview
    extra = 0
    fields = ("position", "label", "image")


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("family", "version", "name", "status", "validation", "source", "short_sha", "size",
                    "jobs_count", "created_at")
    list_filter = ("family", "status", "validation", "source")
    search_fields = ("name", "sha256", "description")
    readonly_fields = ("model_card", "version", "sha256", "size", "config", "source_ref", "status",
                       "validation", "validation_errors", "validated_at", "validation_started_at",
                       "validation_attempts", "created_by", "created_at", "recent_jobs")
    fieldsets = [
        (None, {"fields": ["model_card"]}),
        ("Checkpoint", {"fields": ["family", "name", "checkpoint", "description", "source", "licence",
                                   "metrics"]}),
        ("Status", {"fields": ["status", "validation", "validation_errors", "validated_at",
                               "validation_started_at", "validation_attempts"]}),
        ("Facts", {"fields": ["version", "sha256", "size", "config", "source_ref", "created_by",
                              "created_at"]}),
        ("Usage", {"fields": ["recent_jobs"]}),
    ]
    inlines = [ModelPreviewInline]
    actions = ["activate", "retire", "roll_back", "revalidate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        return super().get_queryset(request).annotate(jobs_count=Count("jobs"))

    @admin.display(description="sha256")
    def short_sha(self, obj: ModelVersion) -> str:
        return obj.sha256[:12]

    @admin.display(description="jobs", ordering="jobs_count")
    def jobs_count(self, obj: ModelVersion) -> int:
        return getattr(obj, "jobs_count", None) or obj.jobs.count()

    @admin.display(description="Model card")
    def model_card(self, obj: ModelVersion) -> SafeString:
        if not obj.pk:
            return SafeString("Saved versions show their model card here.")
        return render_to_string("catalog/model_card.html", {"v": obj, "previews": obj.previews.all()})

    @admin.display(description=f"Last {RECENT_JOBS} jobs")
    def recent_jobs(self, obj: ModelVersion) -> SafeString:
        if not obj.pk:
            return SafeString("")
        jobs = obj.jobs.select_related("owner").order_by("-created_at")[:RECENT_JOBS]
        return render_to_string("catalog/recent_jobs.html", {"jobs": jobs, "total": obj.jobs.count()})

    def save_model(self, request: HttpRequest, obj: ModelVersion, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        new_file = "checkpoint" in form.changed_data
        if new_file:
            obj.validation = ModelVersion.Validation.PENDING
            # A new file starts afresh: an earlier file's validation start must not make the sweep
            # end this one as stale.
            obj.validation_started_at, obj.validation_attempts = None, 0
            if not obj.version:
                obj.version = services.next_version(obj.family)
        super().save_model(request, obj, form, change)
        if new_file:
            services.fill_file_facts(obj)
            obj.save(update_fields=["sha256", "size"])
            # Validation loads the file in a worker, never in the web process.
            queue_validation(obj)
            messages.info(request, f"{obj}: validation queued.")

    @admin.action(description="Activate (serve this version for new jobs)")
    def activate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        def one(version: ModelVersion) -> str:
            services.activate(version)
            return f"{version} is now active."

        _each(request, queryset, one)

    @admin.action(description="Retire")
    def retire(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for version in queryset:
            services.retire(version)
        messages.success(request, f"Retired {queryset.count()} version(s).")

    @admin.action(description="Roll back this family to its previous valid version")
    def roll_back(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        def one(family: str) -> str:
            return f"{family}: rolled back to {services.roll_back(family)}."

        _each(request, sorted(set(queryset.values_list("family", flat=True))), one)

    @admin.action(description="Validate again")
    def revalidate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for version in queryset:
            queue_validation(version)
        messages.info(request, f"Validation queued for {queryset.count()} version(s).")


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 1
    fields = ("name", "version", "weight", "control", "capture_rate")
    autocomplete_fields = ("version",)


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    """An endpoint per family: its production variants with traffic weights (an A/B test), and
    their figures side by side."""

    list_display = ("family", "sticky", "variants_summary", "created_at")
    fieldsets = [
        (None, {"fields": ("family", "sticky")}),
        ("Guardrails", {"fields": ("guard_min_jobs", "guard_error_margin", "guard_latency_factor"),
                        "description": "A variant doing worse than the control variant loses its traffic "
                                       "(weight 0) by itself; the trips are listed under the figures."}),
    ]
    inlines = [VariantInline]
    change_form_template = "admin/catalog/endpoint/change_form.html"

    @admin.display(description="variants")
    def variants_summary(self, obj: Endpoint) -> str:
        variants = obj.variants.select_related("version")
        return ", ".join(f"{v.name} {v.version.label} ({v.weight})" for v in variants)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        endpoint = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if endpoint is not None:
            trips = GuardrailTrip.objects.filter(variant__endpoint=endpoint).select_related("variant")
            context["variant_report"] = render_to_string("catalog/variant_report.html", {
                "rows": variant_metrics.report(endpoint), "family": endpoint.family,
                "endpoint_id": endpoint.pk, "trips": trips[:20]})
        return super().change_view(request, object_id, form_url, context)


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    list_display = ("endpoint", "name", "version", "weight", "jobs_count")
    list_filter = ("endpoint",)
    list_editable = ("weight",)
    autocomplete_fields = ("version",)
    actions = ["promote"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Variant]:
        rows = super().get_queryset(request).select_related("endpoint", "version")
        return rows.annotate(jobs_count=Count("jobs"))

    @admin.display(description="jobs", ordering="jobs_count")
    def jobs_count(self, obj: Variant) -> int:
        return getattr(obj, "jobs_count", 0)

    @admin.action(description="Promote to 100%% of its endpoint's traffic (and make its version active)")
    def promote(self, request: HttpRequest, queryset: QuerySet[Variant]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one variant to promote.", messages.ERROR)
            return
        variant = queryset.get()
        routing.promote(variant)
        self.message_user(request, f"{variant.endpoint.family}/{variant.name} ({variant.version.label}) now "
                                   "takes all of the endpoint's traffic.", messages.SUCCESS)


@admin.register(Capture)
class CaptureAdmin(admin.ModelAdmin):
    """Sampled requests of the endpoint variants (apps/catalog/capture.py): read only."""

    list_display = ("created_at", "variant", "source", "tool", "job_id")
    list_filter = ("variant__endpoint", "variant", "source")
    readonly_fields = ("variant", "source", "tool", "job_id", "inputs", "outputs", "files", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Capture | None = None) -> bool:
        return False


@admin.register(DriftReport)
class DriftReportAdmin(admin.ModelAdmin):
    """Drift reports (apps/catalog/drift.py), each with its features' bins drawn against the
    training data's: read only."""

    list_display = ("created_at", "version", "n", "verdict")
    list_filter = ("version__family",)
    readonly_fields = ("version", "created_at", "n", "verdict", "chart")
    fields = readonly_fields

    @admin.display(description="verdict")
    def verdict(self, obj: DriftReport) -> str:
        return "; ".join(obj.alarms) if obj.alarms else "no drift"

    @admin.display(description="traffic (blue) against training data (grey), per bin")
    def chart(self, obj: DriftReport) -> str:
        charts = [{"name": name, "psi": f["psi"], "ks": f["ks"], "p_value": f"{f['p_value']:.2g}",
                   "width": 24 * len(f["shares"]),
                   "bars": [{"x": 24 * i, "base": round(70 * b, 1), "now": round(70 * a, 1), "b": b, "a": a}
                            for i, (a, b) in enumerate(zip(f["shares"], f["baseline"], strict=True))]}
                  for name, f in obj.figures.get("features", {}).items()]
        return render_to_string("catalog/drift_chart.html", {"charts": charts})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DriftReport | None = None) -> bool:
        return False

