"""Catalog pictures for signed-in users: previews of what a model version does (e.g. its styles), and
the example pictures the home page's tool cards show."""

from __future__ import annotations

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404

from .models import ModelExample, ModelPreview


def _picture(image: FieldFile) -> FileResponse:
    response = FileResponse(image.open("rb"))  # content type from the file name
    response["Cache-Control"] = "private, max-age=3600"
    return response


def preview(request: HttpRequest, pk: int) -> FileResponse:
    # Previews are made by the studio from its own sample picture, never from a user's upload, so
    # every signed-in user may see them (the login middleware keeps everyone else out).
    return _picture(get_object_or_404(ModelPreview, pk=pk).image)


def example(request: HttpRequest, pk: int) -> FileResponse:
    # The same as a preview: made by the starter installer from the studio's own sample pictures.
    item = get_object_or_404(ModelExample, pk=pk)
    if not item.image:  # a text example has no picture
        raise Http404("This example is a text")
    return _picture(item.image)
