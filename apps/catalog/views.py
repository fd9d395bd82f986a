"""Catalog pictures for signed-in users: previews of what a model version does (e.g. its styles), and
the example pictures the home page's tool cards show; and, for catalog admins, a version's
checkpoint as safetensors."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from .loading import read_checkpoint
from .models import ModelExample, ModelPreview, ModelVersion
from .services import CatalogError


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


def checkpoint_safetensors(request: HttpRequest, pk: int) -> HttpResponse:
    """A version's checkpoint as a .safetensors file: the state_dict's tensors, with format, family,
    config and extra in its metadata (ml/common/checkpoint.py to_safetensors). For whoever may see the version
    in the admin (staff with the catalog's view permission), as its page is; only validated files,
    so the web process reads nothing a worker has not already checked."""
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm("catalog.view_modelversion")):
        raise PermissionDenied("Only catalog admins may download checkpoints.")
    version = get_object_or_404(ModelVersion, pk=pk)
    if version.validation != ModelVersion.Validation.VALID:
        raise Http404("Only a validated version can be downloaded as safetensors.")
    from ml.common.checkpoint import to_safetensors  # here: the web process loads torch only for this

    try:
        data = to_safetensors(read_checkpoint(version))
    except CatalogError as exc:  # the file changed since it was validated
        raise Http404(str(exc)) from exc
    response = HttpResponse(data, content_type="application/octet-stream")
    name = f"{version.family}-v{version.version}.safetensors"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
