"""Catalog pictures for signed-in users: previews of what a model version does (e.g. its styles)."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404

from .models import ModelPreview


def preview(request: HttpRequest, pk: int) -> FileResponse:
    # Previews are made by the studio from its own sample picture, never from a user's upload, so
    # every signed-in user may see them (the login middleware keeps everyone else out).
    item = get_object_or_404(ModelPreview, pk=pk)
    response = FileResponse(item.image.open("rb"))  # content type from the file name
    response["Cache-Control"] = "private, max-age=3600"
    return response
