from django.urls import path

from . import views

urlpatterns = [
    path("catalog/previews/<int:pk>/", views.preview, name="catalog-preview"),
    path("catalog/examples/<int:pk>/", views.example, name="catalog-example"),
    path("catalog/versions/<int:pk>/safetensors/", views.checkpoint_safetensors,
         name="catalog-safetensors"),
]
