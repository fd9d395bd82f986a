from django.contrib import admin

from .models import Job, JobEvent


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    readonly_fields = ("seq", "kind", "data", "created_at")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "owner", "state", "model_version", "step", "total", "worker", "created_at")
    list_filter = ("state", "kind", "model__family")
    search_fields = ("id", "owner__username")
    inlines = [JobEventInline]
    raw_id_fields = ("model",)
