from django.apps import AppConfig


class EmbeddedConfig(AppConfig):
    """The one-command local run (`manage.py runstudio`): no models, only the launcher."""

    name = "apps.embedded"
