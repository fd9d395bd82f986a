from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "apps.jobs"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (worker start-up sweep)
