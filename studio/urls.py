from django.contrib import admin
from django.urls import include, path

from apps.api import api
from apps.monitoring.views import metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("apps.accounts.urls")),
    path("api/", api.urls()),
    path("metrics", metrics, name="metrics"),
    path("", include("apps.catalog.urls")),
    path("", include("apps.jobs.urls")),
]
