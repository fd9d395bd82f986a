from django.urls import path

from . import views

urlpatterns = [
    path("catalog/previews/<int:pk>/", views.preview, name="catalog-preview"),
]
