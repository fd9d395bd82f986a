from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "apps.api"
    label = "api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.jobs.events import job_finished

        from . import signals

        job_finished.connect(signals.on_job_finished, dispatch_uid="api-webhooks")
